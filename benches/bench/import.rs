//! `import`: a generated Jira export (by default 20,000 rows: 1,000 epics,
//! stories of 20 teams, 2,000 Blocks links, in files of 1,000 rows as Jira
//! writes them) imported into an empty program by `portfolio import jira`,
//! then imported again unchanged (the morning re-import).

use std::time::Instant;

use chrono::{Duration, Utc};
use entity::{increment, iteration};
use portfolio::graphql::id::{Kind, encode};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::{BoxError, fresh_store};
use crate::load::{portfolio_binary, xorshift};

pub struct ImportOptions {
    pub rows: usize,
    pub teams: usize,
    pub epics: usize,
    pub links: usize,
}

/// Jira's columns, with `Sprint` repeated as it writes a multi-valued field.
const HEADER: [&str; 14] = [
    "Summary",
    "Issue key",
    "Issue id",
    "Issue Type",
    "Status",
    "Status Category",
    "Resolution",
    "Project key",
    "Description",
    "Sprint",
    "Sprint",
    "Inward issue link (Blocks)",
    "Custom field (Story Points)",
    "Custom field (Epic Link)",
];
/// The team and the criteria, after the columns above.
const MORE: [&str; 3] = [
    "Custom field (Team)",
    "Custom field (Acceptance Criteria)",
    "Custom field (Business Value)",
];

/// The export as files of at most 1,000 rows each, epics first, then the
/// stories in rank order; story `s` may be blocked by an earlier story, so
/// the links form no cycle.
fn export(o: &ImportOptions) -> Result<Vec<(String, String)>, BoxError> {
    let stories = o.rows.saturating_sub(o.epics);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    // Which stories are blocked, and by whom: `links` distinct blocked stories.
    let mut blocked_by = vec![None; stories];
    let mut placed = 0;
    while placed < o.links.min(stories.saturating_sub(1)) {
        let s = 1 + xorshift(&mut rng, stories - 1);
        if blocked_by[s].is_none() {
            blocked_by[s] = Some(xorshift(&mut rng, s));
            placed += 1;
        }
    }
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(o.rows);
    for e in 0..o.epics {
        let mut row = vec![String::new(); HEADER.len() + MORE.len()];
        row[0] = format!("Epic {e}: a capability, with \"quotes\", commas");
        row[1] = format!("BIG-{}", e + 1);
        row[2] = format!("{}", 100_000 + e);
        row[3] = "Epic".into();
        row[4] = "To Do".into();
        row[5] = "To Do".into();
        row[7] = "BIG".into();
        row[8] = format!("Why epic {e} matters.\nSecond line, with a comma.");
        row[16] = ["1", "2", "3", "5", "8", "13", "20"][e % 7].into();
        rows.push(row);
    }
    const POINTS: [&str; 6] = ["1", "2", "3", "5", "8", ""];
    for (s, blocker) in blocked_by.iter().enumerate() {
        let r = xorshift(&mut rng, usize::MAX) as u64;
        let (status, category, resolution) = match r % 10 {
            0..=5 => ("To Do", "To Do", ""),
            6 | 7 => ("In Progress", "In Progress", ""),
            _ => ("Done", "Done", "Done"),
        };
        let started = category != "To Do";
        let mut row = vec![String::new(); HEADER.len() + MORE.len()];
        row[0] = format!("Story {s}");
        row[1] = format!("BIG-{}", o.epics + s + 1);
        row[2] = format!("{}", 200_000 + s);
        row[3] = if s % 7 == 0 { "Bug" } else { "Story" }.into();
        row[4] = status.into();
        row[5] = category.into();
        row[6] = resolution.into();
        row[7] = "BIG".into();
        row[8] = format!("As a user, I want {s}.\n\"Details\", here.");
        // Planned stories: in the last of one or two sprints.
        if started || r % 3 == 0 {
            let sprint = 1 + (r >> 8) % 5;
            if sprint > 1 {
                row[9] = format!("PI 1 Sprint {}", sprint - 1);
            }
            row[10] = format!("PI 1 Sprint {sprint}");
        }
        if let Some(b) = blocker {
            row[11] = format!("BIG-{}", o.epics + b + 1);
        }
        row[12] = if started {
            "3".into()
        } else {
            POINTS[((r >> 16) % 6) as usize].into()
        };
        if o.epics > 0 {
            row[13] = format!("BIG-{}", 1 + (r >> 24) as usize % o.epics);
        }
        row[14] = format!("Team {:02}", s % o.teams.max(1));
        if started || r % 2 == 0 {
            row[15] = "Given a cart, when I pay, then it is paid.".into();
        }
        rows.push(row);
    }
    let mut files = Vec::new();
    for (n, chunk) in rows.chunks(1_000).enumerate() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(HEADER.iter().chain(MORE.iter()))?;
        for row in chunk {
            writer.write_record(row)?;
        }
        let mut text = String::from('\u{feff}');
        text.push_str(&String::from_utf8(writer.into_inner()?)?);
        files.push((format!("jira-{n}.csv"), text));
    }
    Ok(files)
}

pub async fn import(database: &str, o: &ImportOptions) -> Result<(), BoxError> {
    let files = export(o)?;
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    println!(
        "import on {database}: {} rows ({} epics, {} teams, {} Blocks links) in {} files, {:.1} MB",
        o.rows,
        o.epics,
        o.teams,
        o.links,
        files.len(),
        bytes as f64 / 1e6
    );
    let (store, settings, _dir) = fresh_store(database, "import").await?;
    let (_pm, program) = super::seed_program(store.conn(), "PM", "Imported").await?;
    let start = Utc::now().date_naive();
    let pi = increment::ActiveModel {
        program_id: Set(program.id),
        name: Set("PI 1".into()),
        start_date: Set(start),
        end_date: Set(start + Duration::days(69)),
        iteration_count: Set(5),
        iteration_length_days: Set(14),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(store.conn())
    .await?;
    for n in 0..5 {
        iteration::ActiveModel {
            increment_id: Set(pi.id),
            number: Set(n + 1),
            start_date: Set(start + Duration::days(14 * i64::from(n))),
            end_date: Set(start + Duration::days(14 * i64::from(n) + 13)),
            ..Default::default()
        }
        .insert(store.conn())
        .await?;
    }
    // The files as a user hands them to the command line.
    let folder =
        std::env::temp_dir().join(format!("portfolio-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let mut paths = Vec::new();
    for (name, text) in &files {
        let path = folder.join(name);
        std::fs::write(&path, text)?;
        paths.push(path);
    }
    let mut db_args = vec!["--database-url".to_owned(), settings.database_url.clone()];
    if let Some(schema) = &settings.database_schema {
        db_args.extend(["--database-schema".to_owned(), schema.clone()]);
    }
    let program_id = encode(Kind::Program, program.id);
    let increment_id = encode(Kind::Increment, pi.id);
    for pass in ["into an empty program", "again, unchanged"] {
        let started = Instant::now();
        let out = tokio::process::Command::new(portfolio_binary())
            .args(&db_args)
            .args(["import", "jira", "--program", program_id.as_str()])
            .args(["--increment", increment_id.as_str(), "--csv"])
            .args(&paths)
            .env("RUST_LOG", "warn")
            .output()
            .await?;
        let took = started.elapsed().as_secs_f64();
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&folder);
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        println!("\n{pass}: {took:.1} s ({:.0} rows/s)", o.rows as f64 / took);
        for line in String::from_utf8_lossy(&out.stdout).lines().take(8) {
            println!("  {line}");
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
    Ok(())
}
