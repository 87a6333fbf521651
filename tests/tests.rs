mod plan;
mod units_smoke {}
