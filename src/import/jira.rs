//! Reading Jira's CSV export ("Export Excel CSV (all fields)") into issues.
//!
//! Jira writes one column per value of a multi-valued field, all with the
//! same header (`Sprint`, `Labels`, `Inward issue link (Blocks)`, ...),
//! quotes multi-line fields, starts the file with a UTF-8 byte-order mark,
//! and names custom fields `Custom field (Name)`. Headers are matched
//! without regard to case. Pure: no database.

use std::collections::HashMap;

use crate::error::{AppError, AppResult};

/// What an issue becomes here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueType {
    /// An Epic: a feature.
    Epic,
    /// A Story, Task or Bug: a story.
    Story,
    /// Anything else (Sub-task, Initiative, ...): not imported.
    Other(String),
}

/// Jira's status category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    ToDo,
    InProgress,
    Done,
}

/// One row of the export.
#[derive(Clone, Debug)]
pub struct Issue {
    /// 1-based row number in its file, after the header.
    pub row: usize,
    pub key: String,
    /// Jira's numeric issue id (what `Parent` holds in some exports).
    pub id: Option<String>,
    pub issue_type: IssueType,
    pub summary: String,
    pub description: String,
    /// None when the export has no acceptance criteria field.
    pub acceptance_criteria: Option<String>,
    /// The story points as written ("3", "3.0"), if any.
    pub points: Option<String>,
    /// The parent or epic link: a key or an issue id.
    pub parent: Option<String>,
    /// The team field's value, else the project's name.
    pub team: String,
    /// The last sprint listed.
    pub sprint: Option<String>,
    pub progress: Progress,
    pub status: String,
    pub resolution: String,
    /// Keys this issue is blocked by (`Inward issue link (Blocks)`).
    pub blocked_by: Vec<String>,
    /// Keys this issue blocks (`Outward issue link (Blocks)`).
    pub blocks: Vec<String>,
    /// Business value, time criticality, risk reduction, job size, as
    /// written, when the export has them.
    pub wsjf: [Option<String>; 4],
}

/// The columns of one file, by lower-cased header.
struct Columns(HashMap<String, Vec<usize>>);

impl Columns {
    fn new(headers: &csv::StringRecord) -> Self {
        let mut map: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, name) in headers.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
            map.entry(name).or_default().push(i);
        }
        Self(map)
    }

    /// The first of `names` the file has.
    fn find(&self, names: &[&str]) -> Option<&[usize]> {
        names
            .iter()
            .find_map(|n| self.0.get(&n.to_lowercase()).map(Vec::as_slice))
    }

    /// The first non-empty value of the first of `names` the file has.
    fn one(&self, record: &csv::StringRecord, names: &[&str]) -> Option<String> {
        self.find(names)?
            .iter()
            .filter_map(|&i| record.get(i))
            .map(str::trim)
            .find(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every non-empty value of the repeated column `name`.
    fn all(&self, record: &csv::StringRecord, name: &str) -> Vec<String> {
        self.find(&[name])
            .unwrap_or_default()
            .iter()
            .filter_map(|&i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

const POINTS: [&str; 4] = [
    "Custom field (Story Points)",
    "Custom field (Story point estimate)",
    "Story Points",
    "Story point estimate",
];
const CRITERIA: [&str; 2] = ["Custom field (Acceptance Criteria)", "Acceptance Criteria"];
const WSJF: [&[&str]; 4] = [
    &[
        "Custom field (Business Value)",
        "Custom field (User-Business Value)",
        "Business Value",
    ],
    &["Custom field (Time Criticality)", "Time Criticality"],
    &[
        "Custom field (Risk Reduction-Opportunity Enablement)",
        "Custom field (Risk Reduction)",
        "Risk Reduction",
    ],
    &["Custom field (Job Size)", "Job Size"],
];

/// Reads one exported file. `team_field` names the column (plain or as
/// `Custom field (...)`) whose value is the team; rows without it go to a
/// team named after their project.
pub fn parse(file: &str, text: &str, team_field: &str) -> AppResult<Vec<Issue>> {
    let bad = |what: String| AppError::bad_input(format!("{file}: {what}"));
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("not a CSV file: {e}")))?
        .clone();
    let columns = Columns::new(&headers);
    for required in ["Issue key", "Issue Type", "Summary"] {
        if columns.find(&[required]).is_none() {
            return Err(bad(format!(
                "no {required:?} column; export from Jira with \"Export Excel CSV (all fields)\""
            )));
        }
    }
    let custom_team = format!("Custom field ({team_field})");
    let team_names = [team_field, custom_team.as_str()];
    let mut issues = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        let one = |names: &[&str]| columns.one(&record, names);
        let Some(key) = one(&["Issue key"]) else {
            continue;
        };
        let issue_type = match one(&["Issue Type"]).unwrap_or_default() {
            t if t.eq_ignore_ascii_case("epic") => IssueType::Epic,
            t if ["story", "task", "bug"]
                .iter()
                .any(|s| t.eq_ignore_ascii_case(s)) =>
            {
                IssueType::Story
            }
            t => IssueType::Other(t),
        };
        let status = one(&["Status"]).unwrap_or_default();
        let progress = match one(&["Status Category"]) {
            Some(category) => progress_of_category(&category),
            None => progress_of_status(&status),
        };
        let project = one(&["Project name", "Project key"]).unwrap_or_else(|| {
            key.rsplit_once('-')
                .map_or(key.clone(), |(p, _)| p.to_owned())
        });
        issues.push(Issue {
            row: i + 1,
            id: one(&["Issue id"]),
            issue_type,
            summary: one(&["Summary"]).unwrap_or_default(),
            description: columns
                .find(&["Description"])
                .and_then(|c| c.first())
                .and_then(|&c| record.get(c))
                .map(|d| d.trim().replace("\r\n", "\n"))
                .unwrap_or_default(),
            acceptance_criteria: columns
                .find(&CRITERIA)
                .map(|_| one(&CRITERIA).unwrap_or_default().replace("\r\n", "\n")),
            points: one(&POINTS),
            parent: one(&[
                "Parent key",
                "Custom field (Epic Link)",
                "Epic Link",
                "Parent",
            ]),
            team: one(&team_names).unwrap_or(project),
            sprint: columns.all(&record, "Sprint").pop(),
            progress,
            status,
            resolution: one(&["Resolution"]).unwrap_or_default(),
            blocked_by: columns.all(&record, "Inward issue link (Blocks)"),
            blocks: columns.all(&record, "Outward issue link (Blocks)"),
            wsjf: WSJF.map(one),
            key,
        });
    }
    Ok(issues)
}

fn progress_of_category(category: &str) -> Progress {
    match category.to_lowercase().as_str() {
        "done" | "complete" => Progress::Done,
        "in progress" | "indeterminate" => Progress::InProgress,
        _ => Progress::ToDo,
    }
}

/// Without a status category column: Jira's usual status names.
fn progress_of_status(status: &str) -> Progress {
    match status.to_lowercase().as_str() {
        "" | "to do" | "open" | "backlog" | "new" | "selected for development" | "reopened" => {
            Progress::ToDo
        }
        "done" | "closed" | "resolved" | "complete" | "completed" => Progress::Done,
        _ => Progress::InProgress,
    }
}

/// A number as Jira writes it ("5", "5.0") as a whole number.
pub fn whole(field: &str, written: &str) -> AppResult<i32> {
    let value: f64 = written
        .trim()
        .parse()
        .map_err(|_| AppError::bad_input(format!("{field} {written:?} is not a number")))?;
    if value.fract() != 0.0 || value.abs() > f64::from(i32::MAX) {
        return Err(AppError::bad_input(format!(
            "{field} {written:?} is not a whole number"
        )));
    }
    Ok(value as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bom_repeated_columns_and_multiline_fields() {
        let text = "\u{feff}Summary,Issue key,Issue id,Issue Type,Status,Sprint,Sprint,\
                    Inward issue link (Blocks),Inward issue link (Blocks),Description,\
                    Custom field (Story Points),Project name\n\
                    \"Pay, now\",SHOP-2,102,Story,In Progress,Sprint 1,Sprint 2,SHOP-7,,\
                    \"Line one\nwith \"\"quotes\"\", and a comma\",3.0,Shop\n";
        let issues = parse("a.csv", text, "Team").unwrap();
        assert_eq!(issues.len(), 1);
        let issue = &issues[0];
        assert_eq!(issue.key, "SHOP-2");
        assert_eq!(issue.summary, "Pay, now");
        assert_eq!(issue.sprint.as_deref(), Some("Sprint 2"));
        assert_eq!(issue.blocked_by, ["SHOP-7"]);
        assert_eq!(issue.description, "Line one\nwith \"quotes\", and a comma");
        assert_eq!(issue.team, "Shop");
        assert_eq!(issue.progress, Progress::InProgress);
        assert_eq!(issue.acceptance_criteria, None);
        assert_eq!(
            whole("points", issue.points.as_deref().unwrap()).unwrap(),
            3
        );
    }

    #[test]
    fn refuses_a_file_that_is_not_an_export() {
        let err = parse("x.csv", "a,b\n1,2\n", "Team").unwrap_err();
        assert!(err.message().contains("Issue key"), "{}", err.message());
    }

    #[test]
    fn whole_numbers_only() {
        assert!(whole("points", "2.5").is_err());
        assert!(whole("points", "many").is_err());
        assert_eq!(whole("points", " 8 ").unwrap(), 8);
    }
}
