//! How figures and times are written for readers.

/// A value for a reader: `n/a` when not measured (non-finite).
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_owned()
    } else if v == 0.0 {
        format!("{v}")
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.3e}")
    }
}

/// Seconds since the Unix epoch as ISO 8601 (RFC 3339, UTC), e.g.
/// `2026-12-01T15:30:37Z`.
pub fn iso8601(unix: u64) -> String {
    use time::format_description::well_known::Rfc3339;
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("unix time {unix}"))
}
