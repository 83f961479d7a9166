//! Predictability: actual business value over planned business value of
//! committed objectives. Stretch objectives add to the actual value but not
//! to the planned one, so a team can exceed 100%. Pure.

use entity::objective;

/// Planned and actual business value of a set of objectives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Planned value of the committed objectives.
    pub planned: i32,
    /// Actual value of every scored objective, committed or stretch.
    pub actual: i32,
    pub committed: i32,
    pub stretch: i32,
    /// Objectives the PM has not scored yet.
    pub unscored: i32,
}

impl Tally {
    /// Tallies objectives.
    pub fn of<'a>(objectives: impl IntoIterator<Item = &'a objective::Model>) -> Self {
        objectives.into_iter().fold(Self::default(), |mut t, o| {
            if o.committed {
                t.planned += o.planned_value;
                t.committed += 1;
            } else {
                t.stretch += 1;
            }
            match o.actual_value {
                Some(v) => t.actual += v,
                None => t.unscored += 1,
            }
            t
        })
    }

    /// Adds two tallies (teams into a program).
    pub fn plus(self, other: Self) -> Self {
        Self {
            planned: self.planned + other.planned,
            actual: self.actual + other.actual,
            committed: self.committed + other.committed,
            stretch: self.stretch + other.stretch,
            unscored: self.unscored + other.unscored,
        }
    }

    /// actual / planned; `None` when nothing committed was planned.
    pub fn ratio(&self) -> Option<f64> {
        (self.planned > 0).then(|| f64::from(self.actual) / f64::from(self.planned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objective(planned: i32, actual: Option<i32>, committed: bool) -> objective::Model {
        objective::Model {
            id: 0,
            team_id: 1,
            increment_id: 1,
            description: String::new(),
            planned_value: planned,
            actual_value: actual,
            committed,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn stretch_adds_to_actual_only() {
        let t = Tally::of(&[
            objective(10, Some(8), true),
            objective(5, Some(5), true),
            objective(4, Some(3), false),
            objective(6, None, true),
        ]);
        assert_eq!(t.planned, 21);
        assert_eq!(t.actual, 16);
        assert_eq!((t.committed, t.stretch, t.unscored), (3, 1, 1));
        assert_eq!(t.ratio(), Some(16.0 / 21.0));
    }

    #[test]
    fn nothing_planned_has_no_ratio_and_teams_add_up() {
        let stretch_only = Tally::of(&[objective(3, Some(2), false)]);
        assert_eq!(stretch_only.ratio(), None);
        let team = Tally::of(&[objective(10, Some(10), true)]);
        let program = team.plus(stretch_only);
        assert_eq!(program.ratio(), Some(1.2));
    }
}
