//! Time budgets written by people: `90s`, `5m`, `1h`, `1h30m`, or bare seconds.

use crate::error::{user_error, Result};
use std::time::Duration;

/// Parses a `--budget` value. Bad input names the value (exit 2).
pub fn parse_budget(text: &str) -> Result<Duration> {
    let bad = || {
        user_error(format!(
            "--budget '{text}': expected a duration such as 90s, 5m, 1h or 1h30m"
        ))
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return if secs > 0 {
            Ok(Duration::from_secs(secs))
        } else {
            Err(bad())
        };
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for ch in t.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        let cases = [
            ("90s", 90),
            ("5m", 300),
            ("1h", 3600),
            ("1h30m", 5400),
            ("45", 45),
            (" 2m ", 120),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_budget(text).unwrap(),
                Duration::from_secs(secs),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_nonsense_with_exit_2() {
        for text in [
            "",
            "0",
            "0s",
            "5x",
            "m",
            "5m3",
            "-1m",
            "99999999999999999999h",
        ] {
            let e = parse_budget(text).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{text}");
            assert!(e.to_string().contains("--budget"));
        }
    }
}
