mod units_smoke {}
