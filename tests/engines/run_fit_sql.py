#!/usr/bin/env python3
"""Runs a script from `otaplan fit-coverage --emit-sql ENGINE` on a real engine and writes
the view it creates (coverage_model) as a folder of Parquet part files, the way each engine
writes tables: DuckDB with COPY ... (FORMAT parquet, PER_THREAD_OUTPUT), Spark with
DataFrameWriter.parquet (part-*.parquet, _SUCCESS). Used by tests/warehouse.rs.

    run_fit_sql.py duckdb|spark SCRIPT OUT_DIR [--table NAME=FILE]... [--copy SRC DST_DIR]...

--table registers a CSV or Parquet file as a view NAME first (the script's tables:
`coverage` and `devices` unless --history-table/--devices-table said otherwise). --copy
also rewrites a CSV or Parquet file as that engine's output folder (DuckDB: hive
partition folders by hour_of_week, or by online for a history, else one part per
thread; Spark: 3 part files), so the planner can be shown to read the engines' folders.
Prints the wall time of the fit (script and write) in seconds on stdout.
"""
import argparse
import time


def statements(script):
    """The script's statements (each ends with ';' at the end of a line)."""
    out, cur = [], []
    for line in script.splitlines():
        if line.startswith("--") and not cur:
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur).rstrip().rstrip(";"))
            cur = []
    if "".join(cur).strip():
        out.append("\n".join(cur))
    return out


def reader(path):
    if path.endswith(".csv"):
        return f"read_csv('{path}', all_varchar = true)"
    return f"read_parquet('{path}')"


def run_duckdb(script, out_dir, tables, copy):
    import duckdb

    con = duckdb.connect()
    for name, path in tables:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {reader(path)}")
    t = time.time()
    con.execute(script)
    con.execute(f"COPY coverage_model TO '{out_dir}' (FORMAT parquet, PER_THREAD_OUTPUT)")
    took = time.time() - t
    for src, dst in copy:
        con.execute(f"CREATE OR REPLACE VIEW fit_copy AS SELECT * FROM {reader(src)}")
        cols = [r[0] for r in con.execute("DESCRIBE fit_copy").fetchall()]
        by = next((c for c in ("hour_of_week", "online") if c in cols), None)
        how = f"PARTITION_BY ({by})" if by else "PER_THREAD_OUTPUT"
        con.execute(f"COPY fit_copy TO '{dst}' (FORMAT parquet, {how})")
    return took


def run_spark(script, out_dir, tables, copy):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("otaplan-fit-coverage")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for name, path in tables:
        if path.endswith(".csv"):
            df = spark.read.option("header", True).csv(path)
        else:
            df = spark.read.parquet(path)
        df.createOrReplaceTempView(name)
    t = time.time()
    for s in statements(script):
        spark.sql(s)
    spark.table("coverage_model").write.parquet(out_dir)
    took = time.time() - t
    for src, dst in copy:
        if src.endswith(".csv"):
            df = spark.read.option("header", True).csv(src)
        else:
            df = spark.read.parquet(src)
        df.repartition(3).write.parquet(dst)
    spark.stop()
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("engine", choices=["duckdb", "spark"])
    ap.add_argument("script")
    ap.add_argument("out_dir")
    ap.add_argument("--table", action="append", default=[], metavar="NAME=FILE")
    ap.add_argument("--copy", nargs=2, action="append", default=[], metavar=("SRC", "DST_DIR"))
    a = ap.parse_args()
    tables = [t.split("=", 1) for t in a.table]
    with open(a.script) as f:
        script = f.read()
    run = run_duckdb if a.engine == "duckdb" else run_spark
    print(f"{run(script, a.out_dir, tables, a.copy):.1f}")


if __name__ == "__main__":
    main()
