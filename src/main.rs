//! The `otaplan` binary: parse the command line, run the library, map the outcome to an
//! exit code (0 ok, 1 bad input or no feasible plan, 2 usage or internal error).
fn main() -> std::process::ExitCode {
    otaplan::cli::main()
}
