//! Flow figures of a team: velocity per iteration, work in progress, cycle
//! time from READY to ACCEPTED. Pure.

use std::collections::BTreeMap;

use entity::story;

/// Accepted points and stories per iteration id.
pub fn velocity(stories: &[story::Model]) -> BTreeMap<i64, (i32, i32)> {
    let mut out = BTreeMap::new();
    for s in stories.iter().filter(|s| s.state == "ACCEPTED") {
        if let Some(iteration) = s.iteration_id {
            let entry = out.entry(iteration).or_insert((0, 0));
            entry.0 += s.points.unwrap_or(0);
            entry.1 += 1;
        }
    }
    out
}

/// The median of some values; `None` when there are none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Hours from first READY to ACCEPTED of each accepted story.
pub fn cycle_times_hours(stories: &[story::Model]) -> Vec<f64> {
    stories
        .iter()
        .filter_map(|s| Some((s.accepted_at? - s.ready_at?).num_seconds() as f64 / 3600.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5.0]), Some(5.0));
        assert_eq!(median(vec![9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
