mod analyze;
mod plan;
mod util;
