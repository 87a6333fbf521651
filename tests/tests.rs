mod analyze;
mod plan;
mod truth;
mod util;
