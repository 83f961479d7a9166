//! Bringing a program over from Jira: `portfolio import jira` and the
//! `importJiraCsv` mutation.
//!
//! The export is read first ([`jira`]), then applied through the use cases
//! in units of work ([`apply`]): the epics as features (one unit), then
//! each team's stories (one unit per team), then each team's Blocks links
//! as dependencies (one unit per team). Every row is one part of its unit:
//! a row the rules refuse is undone alone, reported by its key and reason,
//! and the others go on. Features and stories keep their Jira key
//! (`externalKey`), so a second import updates them in place, moves them
//! to the export's order, adds what is new and leaves alone (and lists)
//! what the export no longer has. A dry run does all of it in one unit of
//! work and rolls it back.

pub mod apply;
pub mod graphql;
pub mod jira;
pub mod keys;
pub mod progress;

use std::collections::BTreeMap;

use crate::{
    auth::policy::Someone,
    ids::{IncrementId, ProgramId, UserId},
};

/// What to import, and where.
#[derive(Clone, Debug)]
pub struct Import {
    /// (file name, contents) of each exported file, in order.
    pub files: Vec<(String, String)>,
    pub target: Target,
    /// The column naming each story's team (default `Team`); rows without
    /// it go to a team named after their Jira project.
    pub team_field: String,
    /// The PO of teams the import creates; the importing user when None.
    pub product_owner: Option<Someone>,
    /// The increment whose iterations the sprints become.
    pub increment: Option<IncrementId>,
    /// Stories resolved Done are accepted.
    pub accept_done: bool,
    /// Check everything and write nothing.
    pub dry_run: bool,
}

/// The program to import into.
#[derive(Clone, Debug)]
pub enum Target {
    Program(ProgramId),
    /// A new program by this name, with this Product Manager.
    New {
        name: String,
        product_manager: UserId,
    },
}

/// The kinds of item an import creates or updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemKind {
    Team,
    Feature,
    Story,
    Dependency,
}

impl ItemKind {
    pub const ALL: [ItemKind; 4] = [Self::Team, Self::Feature, Self::Story, Self::Dependency];

    /// A plural for people.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Team => "teams",
            Self::Feature => "features",
            Self::Story => "stories",
            Self::Dependency => "dependencies",
        }
    }
}

/// How many items of one kind each outcome had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// A row, or part of one, that the rules refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The Jira key (for a link, the blocked issue's key).
    pub key: String,
    pub kind: ItemKind,
    pub reason: String,
}

/// What an import did, or (dry run) would do.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub program_id: i64,
    pub dry_run: bool,
    /// Rows read, in all files.
    pub rows: usize,
    pub counts: BTreeMap<ItemKind, Counts>,
    /// Refused rows (counted as refused) and refused parts of imported rows
    /// (a status the rules did not allow, a sprint with no iteration).
    pub refused: Vec<Refusal>,
    /// Keys of the program's imported items that this export does not have
    /// (left as they are).
    pub not_in_export: Vec<String>,
    /// Remarks on the export as a whole (such as sprints without
    /// `--increment`).
    pub notes: Vec<String>,
}

impl Summary {
    fn count(&mut self, kind: ItemKind) -> &mut Counts {
        self.counts.entry(kind).or_default()
    }

    fn absorb(&mut self, other: Summary) {
        for (kind, c) in other.counts {
            let mine = self.count(kind);
            mine.created += c.created;
            mine.updated += c.updated;
            mine.unchanged += c.unchanged;
            mine.refused += c.refused;
        }
        self.refused.extend(other.refused);
        self.not_in_export.extend(other.not_in_export);
        self.notes.extend(other.notes);
    }

    fn refuse(&mut self, key: &str, kind: ItemKind, reason: impl Into<String>) {
        self.count(kind).refused += 1;
        self.note_refusal(key, kind, reason);
    }

    /// A refused part of a row that was otherwise imported.
    fn note_refusal(&mut self, key: &str, kind: ItemKind, reason: impl Into<String>) {
        self.refused.push(Refusal {
            key: key.to_owned(),
            kind,
            reason: reason.into(),
        });
    }

    /// The counts of `kind` (zero when none).
    pub fn of(&self, kind: ItemKind) -> Counts {
        self.counts.get(&kind).copied().unwrap_or_default()
    }
}

/// Where an import tells how far it is.
pub trait Progress: Send + Sync {
    /// Rows to go through in all.
    fn start(&self, _rows: usize) {}
    /// What it does now ("features", "team Checkout", "links of ...").
    fn phase(&self, _what: &str) {}
    /// `rows` more rows are done.
    fn advance(&self, _rows: usize) {}
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {}

impl Summary {
    /// The summary as text for a terminal: the counts by kind, then each
    /// refusal, the keys left alone and the notes.
    pub fn render(&self, program: &str) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        if self.dry_run {
            out.push_str("dry run: nothing was written\n");
        }
        let _ = writeln!(out, "program {program}: {} rows read", self.rows);
        let _ = writeln!(
            out,
            "{:<14}{:>9}{:>9}{:>11}{:>9}",
            "", "created", "updated", "unchanged", "refused"
        );
        for kind in ItemKind::ALL {
            let c = self.of(kind);
            let _ = writeln!(
                out,
                "{:<14}{:>9}{:>9}{:>11}{:>9}",
                kind.plural(),
                c.created,
                c.updated,
                c.unchanged,
                c.refused
            );
        }
        if !self.refused.is_empty() {
            let _ = writeln!(out, "refused ({}):", self.refused.len());
            for r in &self.refused {
                let _ = writeln!(out, "  {} ({:?}): {}", r.key, r.kind, r.reason);
            }
        }
        if !self.not_in_export.is_empty() {
            const SHOWN: usize = 50;
            let _ = write!(
                out,
                "not in this export, left alone ({}): {}",
                self.not_in_export.len(),
                self.not_in_export
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if self.not_in_export.len() > SHOWN {
                let _ = write!(out, ", and {} more", self.not_in_export.len() - SHOWN);
            }
            out.push('\n');
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}
