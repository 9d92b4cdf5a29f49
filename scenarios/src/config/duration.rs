//! Durations: the `--duration` flag (`300`, `90s`, `10m`, `1h30m`, `2d 12h`,
//! parsed by `humantime`) and the cap every duration field is held to.

use std::borrow::Cow;

use super::error::ConfigError;

/// The longest duration any field or flag accepts: 365 days, in seconds.
/// Longer runs are not a soak test but a typo, and past this cap
/// `Instant + Duration` arithmetic could overflow (and panic).
pub const MAX_DURATION_S: u64 = 365 * 24 * 3600;

/// Refuses `seconds` above [`MAX_DURATION_S`], naming `field`.
pub(crate) fn check_max_duration(field: impl Into<Cow<'static, str>>, seconds: u64) -> Result<(), ConfigError> {
    if seconds > MAX_DURATION_S {
        return Err(ConfigError::Invalid {
            field: field.into(),
            reason: too_long(&format!("{seconds} s")),
        });
    }
    Ok(())
}

fn too_long(what: &str) -> String {
    format!("{what} is longer than the longest run allowed, 365 days ({MAX_DURATION_S} s)")
}

/// Parses a duration (the `--duration` flag): seconds (`300`), or numbers
/// each with a unit (`humantime`'s: `s`, `m`, `h`, `d`, ...: `90s`, `10m`,
/// `24h`, `1h30m`, `2d 12h`), in whole seconds. Refuses anything over
/// [`MAX_DURATION_S`]; the arithmetic is checked, so no input overflows.
pub fn parse_duration_s(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let not_a_duration = || format!("`{s}` is not a duration (try 300, 90s, 10m, 24h or 1h30m)");
    let too_long = || too_long(&format!("`{s}`"));
    if s.is_empty() {
        return Err(not_a_duration());
    }
    let total = if s.bytes().all(|b| b.is_ascii_digit()) {
        // Bare seconds (humantime wants a unit); only overflow can fail.
        s.parse::<u64>().map_err(|_| too_long())?
    } else {
        // Whole numbers with units only: humantime would also take `1.5h`.
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c.is_whitespace()) {
            return Err(not_a_duration());
        }
        let d = humantime::parse_duration(s).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => too_long(),
            _ => not_a_duration(),
        })?;
        if d.subsec_nanos() != 0 {
            return Err(format!("`{s}` is not a whole number of seconds"));
        }
        d.as_secs()
    };
    if total > MAX_DURATION_S {
        return Err(too_long());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration_s("300"), Ok(300));
        assert_eq!(parse_duration_s("90s"), Ok(90));
        assert_eq!(parse_duration_s("10m"), Ok(600));
        assert_eq!(parse_duration_s(" 10 m "), Ok(600));
        assert_eq!(parse_duration_s("24h"), Ok(86_400));
        assert_eq!(parse_duration_s("1h30m"), Ok(5400));
        assert_eq!(parse_duration_s("2d"), Ok(172_800));
        assert_eq!(parse_duration_s("2d 12h"), Ok(216_000));
        assert_eq!(parse_duration_s("365d"), Ok(MAX_DURATION_S));
        for bad in ["soon", "", "-5", "10x", "1h30", "h", "1.5h"] {
            let e = parse_duration_s(bad).unwrap_err();
            assert!(e.contains("is not a duration"), "{bad:?}: {e}");
        }
        assert!(
            parse_duration_s("1500ms")
                .unwrap_err()
                .contains("whole number of seconds")
        );
    }

    #[test]
    fn huge_durations_are_refused_not_overflowed() {
        for huge in [
            "366d",
            "31536001",
            "99999999999999999999",
            "18446744073709551615",
            "5124095576030432h",
            "18446744073709551615s",
            "307445734561825861m",
            "9999999999999999d",
            "1h18446744073709551615s",
        ] {
            let e = parse_duration_s(huge).unwrap_err();
            assert!(e.contains("365 days"), "{huge}: {e}");
        }
    }
}
