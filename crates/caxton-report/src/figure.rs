//! Figures that may be non-finite, in JSON.
//!
//! JSON has no NaN or infinity, and serde_json writes them as `null`, which
//! an `f64` field then refuses to read: one NaN (a median of no samples, a
//! ratio to a zero reference) made a whole results file unreadable. Every
//! figure of a result set goes through these helpers instead:
//!
//! * a finite value is written as a JSON number, as before;
//! * NaN, +inf and -inf are written as the strings `"NaN"`, `"inf"` and
//!   `"-inf"`: never as a number, and read back as exactly that value, so
//!   `load(save(x))` round-trips every value;
//! * reading also accepts `null` (as NaN), which files written before this
//!   fix contain.
//!
//! A non-finite figure means "not measured": reports show it as `n/a`, and
//! grading never counts it as meeting a target (see [`crate::grade::tier_of`]).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// How a non-finite value is spelled in a result file.
pub fn token(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("inf")
    } else if v == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// The value a token stands for (case-insensitive; `+inf`, `infinity` and
/// `-infinity` also read).
pub fn from_token(t: &str) -> Option<f64> {
    match t.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// One figure, finite or not, as it is written in a result file.
#[derive(Clone, Copy, Debug)]
pub struct Figure(pub f64);

impl Serialize for Figure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match token(self.0) {
            Some(t) => s.serialize_str(t),
            None => s.serialize_f64(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Figure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Figure;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, \"NaN\", \"inf\", \"-inf\" or null")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Figure, E> {
                Ok(Figure(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Figure, E> {
                Ok(Figure(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Figure, E> {
                Ok(Figure(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Figure, E> {
                from_token(v)
                    .map(Figure)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Figure, E> {
                Ok(Figure(f64::NAN))
            }
            fn visit_none<E: de::Error>(self) -> Result<Figure, E> {
                Ok(Figure(f64::NAN))
            }
        }
        d.deserialize_any(V)
    }
}

/// `#[serde(with = "figure::one")]` for an `f64`.
pub mod one {
    use super::{Deserialize, Deserializer, Figure, Serialize, Serializer};

    /// Writes the figure.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        Figure(*v).serialize(s)
    }

    /// Reads the figure.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Figure::deserialize(d).map(|f| f.0)
    }
}

/// `#[serde(with = "figure::maybe")]` for an `Option<f64>`: `None` stays
/// `null` when written; when read, `null` is `None`.
pub mod maybe {
    use super::{Deserialize, Deserializer, Figure, Serialize, Serializer};

    /// Writes the figure, or `null`.
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Figure).serialize(s)
    }

    /// Reads the figure, or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Figure>::deserialize(d)?.map(|f| f.0))
    }
}

/// `#[serde(with = "figure::many")]` for a `Vec<f64>`.
pub mod many {
    use super::{Deserialize, Deserializer, Figure, Serializer};

    /// Writes the figures.
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| Figure(*x)))
    }

    /// Reads the figures.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Figure>::deserialize(d)?.into_iter().map(|f| f.0).collect())
    }
}

/// `#[serde(with = "figure::range")]` for an `Option<(f64, f64)>`.
pub mod range {
    use super::{Deserialize, Deserializer, Figure, Serialize, Serializer};

    /// Writes the pair, or `null`.
    pub fn serialize<S: Serializer>(v: &Option<(f64, f64)>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|(a, b)| (Figure(a), Figure(b))).serialize(s)
    }

    /// Reads the pair, or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(f64, f64)>, D::Error> {
        Ok(Option::<(Figure, Figure)>::deserialize(d)?.map(|(a, b)| (a.0, b.0)))
    }
}

/// `#[serde(with = "figure::named")]` for a `Vec<(String, f64)>`.
pub mod named {
    use super::{Deserialize, Deserializer, Figure, Serializer};

    /// Writes the named figures.
    pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(n, x)| (n, Figure(*x))))
    }

    /// Reads the named figures.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
        Ok(Vec::<(String, Figure)>::deserialize(d)?
            .into_iter()
            .map(|(n, f)| (n, f.0))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn every_value_round_trips() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -2e300,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let text = serde_json::to_string(&Figure(v)).unwrap();
            let back: Figure = serde_json::from_str(&text).unwrap();
            assert!(same(v, back.0), "{v} -> {text} -> {}", back.0);
        }
    }

    #[test]
    fn non_finite_values_are_never_numbers_and_null_reads_as_nan() {
        assert_eq!(serde_json::to_string(&Figure(f64::NAN)).unwrap(), "\"NaN\"");
        assert_eq!(serde_json::to_string(&Figure(f64::INFINITY)).unwrap(), "\"inf\"");
        assert_eq!(serde_json::to_string(&Figure(f64::NEG_INFINITY)).unwrap(), "\"-inf\"");
        assert!(serde_json::from_str::<Figure>("null").unwrap().0.is_nan());
        assert!(serde_json::from_str::<Figure>("\"soon\"").is_err());
    }
}
