mod units_smoke {}
mod sim;
