//! Byte sizes written the way people write them: `1024`, `1KiB`, `64KiB`,
//! `1MiB`, `1k`, `2MB`.

/// Parses a byte size: a number optionally followed by `B`, `K`/`KB`/`KiB`,
/// `M`/`MB`/`MiB` or `G`/`GB`/`GiB` (all binary multiples, case-insensitive).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("invalid size {text:?}: expected e.g. 1024, 1KiB, 64KiB, 1MiB"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {text:?}: use B, KiB, MiB or GiB"
            ));
        }
    };
    n.checked_mul(mult).ok_or_else(|| format!("size {text:?} is too large"))
}

/// Writes a byte size compactly: `100B`, `1KiB`, `64KiB`, `1MiB`, `1536B`.
pub fn format_size(bytes: usize) -> String {
    for (unit, mult) in [("GiB", 1usize << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= mult && bytes.is_multiple_of(mult) {
            return format!("{}{unit}", bytes / mult);
        }
    }
    format!("{bytes}B")
}
