//! otaplan: plans when each device of a fleet downloads a firmware release so SIM overage and congestion cost the least.

pub mod generate;
