//! The dates of an increment's iterations: consecutive, equal length,
//! numbered from 1, end dates inclusive. Pure.

use chrono::{Days, NaiveDate};

use crate::error::{AppError, AppResult};

/// Most iterations one increment may have.
pub const MAX_ITERATIONS: i32 = 26;
/// Longest iteration in days.
pub const MAX_ITERATION_DAYS: i32 = 70;

/// One iteration's number and dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub number: i32,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The iterations of an increment starting on `start`.
pub fn iterations(start: NaiveDate, count: i32, length_days: i32) -> AppResult<Vec<Slot>> {
    if !(1..=MAX_ITERATIONS).contains(&count) {
        return Err(AppError::bad_input(format!(
            "iterationCount must be between 1 and {MAX_ITERATIONS} (got {count})"
        )));
    }
    if !(1..=MAX_ITERATION_DAYS).contains(&length_days) {
        return Err(AppError::bad_input(format!(
            "iterationLengthDays must be between 1 and {MAX_ITERATION_DAYS} (got {length_days})"
        )));
    }
    let out_of_range = || {
        AppError::bad_input("startDate: the increment would end past the last representable date")
    };
    let length = u64::try_from(length_days).map_err(|_| out_of_range())?;
    (0..count)
        .map(|i| {
            let offset = u64::try_from(i).map_err(|_| out_of_range())? * length;
            let first = start
                .checked_add_days(Days::new(offset))
                .ok_or_else(out_of_range)?;
            let last = first
                .checked_add_days(Days::new(length - 1))
                .ok_or_else(out_of_range)?;
            Ok(Slot {
                number: i + 1,
                start: first,
                end: last,
            })
        })
        .collect()
}

/// Whether two inclusive date ranges share a day.
pub fn overlaps(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn iterations_are_consecutive_and_inclusive() {
        let slots = iterations(d("2026-01-05"), 3, 14).unwrap();
        assert_eq!(
            slots,
            vec![
                Slot {
                    number: 1,
                    start: d("2026-01-05"),
                    end: d("2026-01-18")
                },
                Slot {
                    number: 2,
                    start: d("2026-01-19"),
                    end: d("2026-02-01")
                },
                Slot {
                    number: 3,
                    start: d("2026-02-02"),
                    end: d("2026-02-15")
                },
            ]
        );
        let one_day = iterations(d("2026-02-27"), 3, 1).unwrap();
        assert_eq!(one_day[2].start, d("2026-03-01"));
        assert_eq!(one_day[2].end, d("2026-03-01"));
    }

    #[test]
    fn bounds_are_checked() {
        for (count, len) in [(0, 14), (27, 14), (5, 0), (5, 71), (-1, 14)] {
            assert!(
                iterations(d("2026-01-05"), count, len).is_err(),
                "{count} x {len}"
            );
        }
        assert!(iterations(NaiveDate::MAX, 1, 2).is_err());
    }

    #[test]
    fn overlap_is_inclusive() {
        let a = (d("2026-01-01"), d("2026-01-31"));
        assert!(overlaps(a, (d("2026-01-31"), d("2026-02-28"))));
        assert!(overlaps(a, (d("2025-12-01"), d("2026-01-01"))));
        assert!(overlaps(a, (d("2026-01-10"), d("2026-01-11"))));
        assert!(!overlaps(a, (d("2026-02-01"), d("2026-02-28"))));
        assert!(!overlaps(a, (d("2025-12-01"), d("2025-12-31"))));
    }
}
