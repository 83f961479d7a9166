//! Response-time figures: how many are open, how old the oldest open one
//! is, and the median and 90th percentile of the time from asking to the
//! first answer. Pure.

use chrono::{DateTime, Utc};
use entity::clarification;

/// The figures of a set of clarifications, times in hours.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResponseFigures {
    pub open: i32,
    pub oldest_open_hours: Option<f64>,
    pub answered: i32,
    pub median_response_hours: Option<f64>,
    pub p90_response_hours: Option<f64>,
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

/// The nearest-rank percentile `p` (0 to 100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The figures of `items` at time `now`.
pub fn figures<'a>(
    items: impl IntoIterator<Item = &'a clarification::Model>,
    now: DateTime<Utc>,
) -> ResponseFigures {
    let mut open = 0;
    let mut oldest: Option<DateTime<Utc>> = None;
    let mut times = Vec::new();
    for c in items {
        if c.status == "OPEN" {
            open += 1;
            oldest = Some(oldest.map_or(c.asked_at, |o| o.min(c.asked_at)));
        }
        if let Some(answered) = c.answered_at {
            times.push(hours(c.asked_at, answered));
        }
    }
    times.sort_by(f64::total_cmp);
    ResponseFigures {
        open,
        oldest_open_hours: oldest.map(|o| hours(o, now)),
        answered: i32::try_from(times.len()).unwrap_or(i32::MAX),
        median_response_hours: crate::insight::flow::median(times.clone()),
        p90_response_hours: percentile(&times, 90.0),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn item(asked_h: i64, answered_h: Option<i64>, status: &str) -> clarification::Model {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        clarification::Model {
            id: 0,
            program_id: 1,
            story_id: Some(1),
            feature_id: None,
            team_id: Some(1),
            question: "?".into(),
            asker_id: None,
            assignee_id: 1,
            status: status.into(),
            blocking: false,
            asked_at: t0 + Duration::hours(asked_h),
            answered_at: answered_h.map(|h| t0 + Duration::hours(h)),
            answered_by_id: None,
            resolved_at: None,
            updated_at: t0,
        }
    }

    #[test]
    fn median_and_p90_of_response_times() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
        // Response times 1..=10 hours, and two open ones asked at +2h and +5h.
        let mut items: Vec<_> = (1..=10).map(|h| item(0, Some(h), "RESOLVED")).collect();
        items.push(item(2, None, "OPEN"));
        items.push(item(5, None, "OPEN"));
        let f = figures(&items, t0 + Duration::hours(26));
        assert_eq!(f.open, 2);
        assert_eq!(f.oldest_open_hours, Some(24.0));
        assert_eq!(f.answered, 10);
        assert_eq!(f.median_response_hours, Some(5.5));
        assert_eq!(f.p90_response_hours, Some(9.0));
    }

    #[test]
    fn nothing_answered_has_no_times() {
        let f = figures(
            &[item(0, None, "OPEN")],
            Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap(),
        );
        assert_eq!(
            (f.open, f.median_response_hours, f.p90_response_hours),
            (1, None, None)
        );
        assert_eq!(percentile(&[], 90.0), None);
        assert_eq!(percentile(&[3.0], 90.0), Some(3.0));
    }
}
