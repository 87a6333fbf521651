mod analyze;
mod plan;
mod sim;
mod truth;
mod util;
