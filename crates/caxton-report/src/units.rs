//! Units the reports understand, and conversion between units of one kind.

/// Scale of `unit` relative to its kind's base unit (seconds, bytes,
/// messages or requests per second, percent, counts), or `None` for an
/// unknown unit.
fn scale(unit: &str) -> Option<(Kind, f64)> {
    Some(match unit {
        "ns" => (Kind::Time, 1e-9),
        "us" | "µs" => (Kind::Time, 1e-6),
        "ms" => (Kind::Time, 1e-3),
        "s" => (Kind::Time, 1.0),
        "min" => (Kind::Time, 60.0),
        "B" => (Kind::Bytes, 1.0),
        "KiB" => (Kind::Bytes, 1024.0),
        "MiB" => (Kind::Bytes, 1024.0 * 1024.0),
        "KB" => (Kind::Bytes, 1e3),
        "MB" => (Kind::Bytes, 1e6),
        "GB" => (Kind::Bytes, 1e9),
        "msg/s" | "req/s" => (Kind::Rate, 1.0),
        "count" => (Kind::Count, 1.0),
        "%" => (Kind::Percent, 1.0),
        "ratio" | "x" => (Kind::Ratio, 1.0),
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Time,
    Bytes,
    Rate,
    Percent,
    Ratio,
    Count,
}

/// Whether the reports know this unit.
pub fn is_known(unit: &str) -> bool {
    scale(unit).is_some()
}

/// Converts `value` from unit `from` to unit `to`; `None` when either unit
/// is unknown or they measure different things.
pub fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(value);
    }
    let (kf, sf) = scale(from)?;
    let (kt, st) = scale(to)?;
    (kf == kt).then_some(value * sf / st)
}

/// Whether a larger value of this unit is better by default (rates and
/// counts, e.g. sessions held), used
/// when no target says otherwise.
pub fn higher_is_better(unit: &str) -> bool {
    matches!(scale(unit), Some((Kind::Rate | Kind::Count, _)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_within_a_kind_only() {
        assert_eq!(convert(1500.0, "us", "ms"), Some(1.5));
        assert_eq!(convert(2.0, "MB", "B"), Some(2e6));
        assert_eq!(convert(1.0, "ms", "MB"), None);
        assert_eq!(convert(1.0, "parsecs", "ms"), None);
        assert!(higher_is_better("msg/s"));
        assert!(!higher_is_better("ms"));
    }
}
