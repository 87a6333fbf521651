mod plan;
mod report;
