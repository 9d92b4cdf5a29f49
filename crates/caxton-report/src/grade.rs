//! Grading measured values against the targets table.

use serde::{Deserialize, Serialize};

use crate::results::{Measurement, ResultSet};
use crate::targets::{Better, Target, Targets};
use crate::units::convert;

/// The tier a value reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Meets the target.
    Target,
    /// Meets the acceptable threshold.
    Acceptable,
    /// Meets only the critical threshold.
    Critical,
    /// Misses even the critical threshold.
    Failing,
}

impl Tier {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Target => "target",
            Tier::Acceptable => "acceptable",
            Tier::Critical => "critical",
            Tier::Failing => "failing",
        }
    }
}

/// Why a value could not be graded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GradeError {
    /// The measurement's unit cannot be converted to the target's.
    #[error("metric {metric:?}: unit {measured:?} cannot be compared with the target's {target:?}")]
    Unit {
        /// The metric.
        metric: String,
        /// Measured unit.
        measured: String,
        /// Target unit.
        target: String,
    },
}

/// Grades `value` (in `target.unit`). A value exactly on a threshold meets it.
/// A non-finite value (NaN, +inf, -inf: not measured) meets nothing: it is
/// [`Tier::Failing`], whichever way the metric is better.
pub fn tier_of(value: f64, target: &Target) -> Tier {
    let meets = |threshold: f64| match target.better {
        Better::Higher => value >= threshold,
        Better::Lower => value <= threshold,
    };
    if !value.is_finite() {
        Tier::Failing
    } else if meets(target.target) {
        Tier::Target
    } else if meets(target.acceptable) {
        Tier::Acceptable
    } else if meets(target.critical) {
        Tier::Critical
    } else {
        Tier::Failing
    }
}

/// A measurement with its grade, when the targets table has its metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graded {
    /// What was measured.
    pub measurement: Measurement,
    /// The value in the target's unit, when graded.
    #[serde(default, with = "crate::figure::maybe")]
    pub value_in_target_unit: Option<f64>,
    /// The target's unit, when graded.
    pub target_unit: Option<String>,
    /// The tier reached; `None` for metrics the table does not list.
    pub tier: Option<Tier>,
}

/// Grades one measurement.
pub fn grade(m: &Measurement, targets: &Targets) -> Result<Graded, GradeError> {
    let Some(target) = targets.metrics.get(&m.metric) else {
        return Ok(Graded {
            measurement: m.clone(),
            value_in_target_unit: None,
            target_unit: None,
            tier: None,
        });
    };
    let v = convert(m.value, &m.unit, &target.unit).ok_or_else(|| GradeError::Unit {
        metric: m.metric.clone(),
        measured: m.unit.clone(),
        target: target.unit.clone(),
    })?;
    Ok(Graded {
        measurement: m.clone(),
        value_in_target_unit: Some(v),
        target_unit: Some(target.unit.clone()),
        tier: Some(tier_of(v, target)),
    })
}

/// The variant of the rows [`grade_all`] adds for the metrics an
/// interrupted run did not reach.
pub const NOT_MEASURED: &str = "not measured (run interrupted)";

/// Grades every measurement of a result set. For a partial set (an
/// interrupted run) every metric of the targets table that has no finite
/// measurement gets a row of its own, variant [`NOT_MEASURED`], value NaN,
/// tier [`Tier::Failing`]: a metric the run never reached is not a pass.
pub fn grade_all(results: &ResultSet, targets: &Targets) -> Result<Vec<Graded>, GradeError> {
    let mut graded = results
        .measurements
        .iter()
        .map(|m| grade(m, targets))
        .collect::<Result<Vec<_>, _>>()?;
    if results.partial {
        for name in not_measured(results, targets) {
            let target = &targets.metrics[name];
            graded.push(grade(
                &Measurement::single(name, NOT_MEASURED, &target.unit, f64::NAN),
                targets,
            )?);
        }
    }
    Ok(graded)
}

/// The metrics of the targets table that `results` has no finite value for.
pub fn not_measured<'t>(results: &ResultSet, targets: &'t Targets) -> Vec<&'t str> {
    targets
        .metrics
        .keys()
        .filter(|name| {
            !results
                .measurements
                .iter()
                .any(|m| &m.metric == *name && m.value.is_finite())
        })
        .map(String::as_str)
        .collect()
}

/// The worst tier among graded measurements (`None` when nothing was graded).
pub fn worst(graded: &[Graded]) -> Option<Tier> {
    graded.iter().filter_map(|g| g.tier).max()
}
