//! Grading, reporting and regression detection for Caxton's benchmark
//! results.
//!
//! * [`targets`]: the tiered targets table (`targets.toml`), as data.
//! * [`results`]: a result set: every metric measured in one run.
//! * [`figure`]: how figures, including non-finite ones ("not measured"),
//!   are written to and read from result files.
//! * [`fmt`]: figures and times for readers (`n/a`, ISO 8601).
//! * [`grade`]: each measured value against its tiers.
//! * [`report`]: Markdown (fits a PR comment), CSV, JSON and one
//!   self-contained HTML page with charts, in the seed's format (date,
//!   commit, environment, summary, per-category tables).
//! * [`trend`]: figures across runs, the regression rule against history,
//!   and the trend page.
//! * [`html`]: the frame of the HTML pages, with uPlot vendored into them.
//! * [`compare`]: two result sets, or two criterion baselines; flags a
//!   regression only when it passes the threshold *and* the noise.
//! * [`criterion`]: the one reader of criterion's output (saved baselines
//!   and each benchmark's latest run).
//! * [`bench_table`]: `docs/benchmarks.md` from criterion's latest run.

pub mod bench_table;
pub mod compare;
pub mod criterion;
pub mod figure;
pub mod fmt;
pub mod grade;
pub mod html;
pub mod report;
pub mod results;
pub mod targets;
pub mod trend;
pub mod units;
