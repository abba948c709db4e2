//! Durations given on the command line (`expire-generations --older-than`,
//! root mode's `--timeout`), parsed by humantime: `30d`, `30 days`, `1w2d`,
//! `1y`, `90s`, `1h30m`. A bare number is in the option's own unit (days
//! for an age, seconds for a timeout), as these options always took it.
//! A duration that does not fit is refused by name: wrapped, an age would
//! be a few seconds and expire every generation.

use std::time::Duration;

/// What a bare number (no unit) means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bare {
    Seconds,
    Days,
}

impl Bare {
    fn unit(self) -> &'static str {
        match self {
            Bare::Seconds => "s",
            Bare::Days => "d",
        }
    }
}

/// Why a duration was refused; the message names what was given.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{raw:?} is too large; a duration must be under 584 billion years")]
    TooLarge { raw: String },
    #[error("{raw:?} is not a duration ({why}); write it like 30d, 12h, 1w2d, 30 days or 1y")]
    Invalid { raw: String, why: String },
}

/// Parses `raw` (see the module's header).
pub fn parse(raw: &str, bare: Bare) -> Result<Duration, Error> {
    let text = raw.trim();
    let with_unit;
    let text = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        with_unit = format!("{text}{}", bare.unit());
        with_unit.as_str()
    } else {
        text
    };
    humantime::parse_duration(text).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => Error::TooLarge {
            raw: raw.to_string(),
        },
        other => Error::Invalid {
            raw: raw.to_string(),
            why: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::{parse, Bare, Error};
    use std::time::Duration;

    const DAY: u64 = 86_400;

    #[test]
    fn forms_people_write() {
        for (raw, secs) in [
            ("30d", 30 * DAY),
            ("30 days", 30 * DAY),
            ("1w2d", 9 * DAY),
            ("12h", 12 * 3600),
            ("90m", 90 * 60),
            ("1h30m", 5400),
            ("45s", 45),
            ("2w", 14 * DAY),
            // humantime's year: 365.25 days.
            ("1y", 31_557_600),
            ("30", 30 * DAY),
        ] {
            assert_eq!(
                parse(raw, Bare::Days),
                Ok(Duration::from_secs(secs)),
                "{raw}"
            );
        }
        assert_eq!(parse("30", Bare::Seconds), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn the_largest_that_fits_and_one_more() {
        assert_eq!(
            parse("18446744073709551615s", Bare::Days),
            Ok(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse("213503982334601d", Bare::Days),
            Ok(Duration::from_secs(213_503_982_334_601 * DAY))
        );
        for raw in [
            "213503982334602d",
            "144115188075855872d",
            "18446744073709551616s",
            "99999999999999999999999",
            "30500568904944w",
        ] {
            assert_eq!(
                parse(raw, Bare::Days),
                Err(Error::TooLarge { raw: raw.into() }),
                "{raw}"
            );
        }
    }

    #[test]
    fn nonsense_is_refused() {
        for raw in ["", "x", "3x", "d", "-1d", "1.5.5d"] {
            assert!(
                matches!(parse(raw, Bare::Days), Err(Error::Invalid { .. })),
                "{raw}"
            );
        }
    }
}
