//! Weighted Shortest Job First: cost of delay / job size, where cost of
//! delay = business value + time criticality + risk reduction (or
//! opportunity enablement). Each input is one of 1, 2, 3, 5, 8, 13, 20. Pure.

use crate::error::{AppError, AppResult};

/// The values a WSJF input may take.
pub const SCALE: [i32; 7] = [1, 2, 3, 5, 8, 13, 20];

/// Checks one WSJF input for the input field `field`.
pub fn input(field: &str, value: i32) -> AppResult<i32> {
    if SCALE.contains(&value) {
        Ok(value)
    } else {
        Err(AppError::bad_input(format!(
            "{field} must be one of 1, 2, 3, 5, 8, 13, 20 (got {value})"
        )))
    }
}

/// A complete set of WSJF inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wsjf {
    pub business_value: i32,
    pub time_criticality: i32,
    pub risk_reduction: i32,
    pub job_size: i32,
}

impl Wsjf {
    /// The inputs when all four are set.
    pub fn from_parts(
        business_value: Option<i32>,
        time_criticality: Option<i32>,
        risk_reduction: Option<i32>,
        job_size: Option<i32>,
    ) -> Option<Self> {
        Some(Self {
            business_value: business_value?,
            time_criticality: time_criticality?,
            risk_reduction: risk_reduction?,
            job_size: job_size?,
        })
    }

    /// Business value + time criticality + risk reduction.
    pub fn cost_of_delay(&self) -> i32 {
        self.business_value + self.time_criticality + self.risk_reduction
    }

    /// Cost of delay / job size. Equal ratios give equal scores exactly
    /// (IEEE division is correctly rounded), so ties are real ties.
    pub fn score(&self) -> f64 {
        f64::from(self.cost_of_delay()) / f64::from(self.job_size.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_scale_is_accepted() {
        for v in SCALE {
            assert_eq!(input("jobSize", v).unwrap(), v);
        }
        for v in [0, 4, 21, -1, 100] {
            let err = input("jobSize", v).unwrap_err();
            assert!(err.message().starts_with("jobSize"), "{}", err.message());
        }
    }

    #[test]
    fn score_is_cost_of_delay_over_job_size() {
        let w = Wsjf {
            business_value: 8,
            time_criticality: 5,
            risk_reduction: 2,
            job_size: 3,
        };
        assert_eq!(w.cost_of_delay(), 15);
        assert_eq!(w.score(), 5.0);
        let a = Wsjf {
            business_value: 5,
            time_criticality: 3,
            risk_reduction: 2,
            job_size: 3,
        };
        let b = Wsjf {
            business_value: 13,
            time_criticality: 5,
            risk_reduction: 2,
            job_size: 6,
        };
        assert_eq!(a.score(), b.score(), "10/3 and 20/6 tie exactly");
        assert_eq!(Wsjf::from_parts(Some(1), Some(1), None, Some(1)), None);
    }
}
