//! Applying a read export through the use cases (see the module above).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use entity::{dependency, feature, iteration, story, team};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{
    Import, ItemKind, Progress, Summary, Target,
    jira::{self, Issue, IssueType, Progress as Status},
    keys,
};
use crate::{
    auth::{Actor, policy::Someone},
    backlog::{
        lifecycle::StoryState,
        service::{NewStory, StoryChange},
        usecase as stories,
    },
    clock::Clock,
    db::Store,
    dependency::{risk::DependencyState, usecase as dependencies},
    error::{AppError, AppResult},
    feature::{
        service::{FeatureChange, NewFeature},
        usecase as features,
    },
    ids::{DependencyId, FeatureId, IncrementId, IterationId, ProgramId, StoryId, TeamId},
    increment, program,
    ranking::Place,
    team::usecase as teams,
    work::{self, Change, Work},
};

/// The export, read and grouped, shared by every unit of work.
#[derive(Clone)]
struct Plan {
    program: ProgramId,
    epics: Vec<Issue>,
    /// Stories by team name, teams in order of first appearance.
    teams: Vec<(String, Vec<Issue>)>,
    /// (blocked key, blocking key), each pair once.
    links: Vec<(String, String)>,
    /// Issue id → key, for a `Parent` given as an id.
    keys_by_id: HashMap<String, String>,
    /// Every key of the export.
    keys: HashSet<String>,
    product_owner: Option<Someone>,
    increment: Option<IncrementId>,
    accept_done: bool,
    progress: Arc<dyn Progress>,
}

/// Imports `import` as `actor`; see the module above.
pub async fn run(
    store: &Store,
    clock: &dyn Clock,
    actor: Actor,
    import: Import,
    progress: Arc<dyn Progress>,
) -> AppResult<Summary> {
    let mut issues = Vec::new();
    for (name, text) in &import.files {
        issues.extend(jira::parse(name, text, &import.team_field)?);
    }
    let rows = issues.len();
    progress.start(rows);
    let mut summary = Summary {
        dry_run: import.dry_run,
        rows,
        ..Summary::default()
    };
    let (plan, read) = group(issues, &import, progress);
    summary.absorb(read);
    if import.dry_run {
        let target = import.target.clone();
        let plan = Arc::new(plan);
        let (program_id, outcome) = work::perform(store, clock, actor, |w| {
            let (plan, target) = (plan.clone(), target.clone());
            Box::pin(async move {
                w.trial();
                let mut plan = Arc::unwrap_or_clone(plan);
                plan.program = open_program(w, &target).await?;
                let plan = Arc::new(plan);
                let mut outcome = import_features(w, &plan).await?;
                for t in 0..plan.teams.len() {
                    outcome.absorb(import_team(w, &plan, t).await?);
                }
                for t in 0..plan.teams.len() {
                    outcome.absorb(import_links(w, &plan, t).await?);
                }
                outcome.absorb(left_alone(w, &plan).await?);
                Ok((plan.program.0, outcome))
            })
        })
        .await?;
        summary.program_id = program_id;
        summary.absorb(outcome);
        return Ok(summary);
    }
    let mut plan = plan;
    plan.program = work::perform(store, clock, actor, |w| {
        let target = import.target.clone();
        Box::pin(async move {
            // Opening an existing program only reads.
            w.may_change_nothing();
            open_program(w, &target).await
        })
    })
    .await?;
    summary.program_id = plan.program.0;
    let plan = Arc::new(plan);
    // Each phase is a unit of work of its own, which may find nothing to
    // change (an import run again).
    let phase =
        async |step: &(dyn for<'w> Fn(&'w mut Work, Arc<Plan>) -> Change<'w, Summary> + Sync)| {
            work::perform(store, clock, actor, |w| {
                w.may_change_nothing();
                step(w, plan.clone())
            })
            .await
        };
    summary
        .absorb(phase(&|w, plan| Box::pin(async move { import_features(w, &plan).await })).await?);
    for t in 0..plan.teams.len() {
        summary.absorb(
            phase(&|w, plan| Box::pin(async move { import_team(w, &plan, t).await })).await?,
        );
    }
    for t in 0..plan.teams.len() {
        summary.absorb(
            phase(&|w, plan| Box::pin(async move { import_links(w, &plan, t).await })).await?,
        );
    }
    let outcome = work::perform(store, clock, actor, |w| {
        let plan = plan.clone();
        Box::pin(async move {
            // Reading only; nothing to commit.
            w.trial();
            left_alone(w, &plan).await
        })
    })
    .await?;
    summary.absorb(outcome);
    Ok(summary)
}

/// Groups the rows: epics, stories by team, links; refuses duplicates and
/// issue types that have no place here.
fn group(issues: Vec<Issue>, import: &Import, progress: Arc<dyn Progress>) -> (Plan, Summary) {
    let mut read = Summary::default();
    let mut plan = Plan {
        program: ProgramId(0),
        epics: Vec::new(),
        teams: Vec::new(),
        links: Vec::new(),
        keys_by_id: HashMap::new(),
        keys: HashSet::new(),
        product_owner: import.product_owner.clone(),
        increment: import.increment,
        accept_done: import.accept_done,
        progress,
    };
    let mut link_seen = HashSet::new();
    let mut team_of: HashMap<String, usize> = HashMap::new();
    let mut sprints = false;
    for issue in issues {
        let kind = match &issue.issue_type {
            IssueType::Epic => ItemKind::Feature,
            _ => ItemKind::Story,
        };
        if !plan.keys.insert(issue.key.clone()) {
            read.refuse(
                &issue.key,
                kind,
                format!("row {}: the key appears earlier in the export", issue.row),
            );
            continue;
        }
        if let Some(id) = &issue.id {
            plan.keys_by_id.insert(id.clone(), issue.key.clone());
        }
        match &issue.issue_type {
            IssueType::Epic => plan.epics.push(issue),
            IssueType::Other(t) => {
                read.refuse(
                    &issue.key,
                    ItemKind::Story,
                    format!("issue type {t:?} is not imported (only Epic, Story, Task and Bug)"),
                );
            }
            IssueType::Story => {
                for blocker in &issue.blocked_by {
                    if link_seen.insert((issue.key.clone(), blocker.clone())) {
                        plan.links.push((issue.key.clone(), blocker.clone()));
                    }
                }
                for blocked in &issue.blocks {
                    if link_seen.insert((blocked.clone(), issue.key.clone())) {
                        plan.links.push((blocked.clone(), issue.key.clone()));
                    }
                }
                sprints |= issue.sprint.is_some();
                let t = *team_of.entry(issue.team.clone()).or_insert_with(|| {
                    plan.teams.push((issue.team.clone(), Vec::new()));
                    plan.teams.len() - 1
                });
                plan.teams[t].1.push(issue);
            }
        }
    }
    if sprints && import.increment.is_none() {
        read.notes.push(
            "sprints were not imported: give the increment whose iterations they become \
             (--increment or incrementId)"
                .into(),
        );
    }
    (plan, read)
}

/// The program to import into: found (and writable by the actor), or new.
async fn open_program(work: &mut Work, target: &Target) -> AppResult<ProgramId> {
    match target {
        Target::Program(id) => {
            let program = work.program(*id).await?;
            work.require(crate::auth::policy::Action::ManageProgram(
                &program,
                "import into the program",
            ))
            .await?;
            Ok(ProgramId(program.id))
        }
        Target::New {
            name,
            product_manager,
        } => {
            let program = program::usecase::create_program(
                work,
                name.clone(),
                String::new(),
                *product_manager,
            )
            .await?;
            Ok(ProgramId(program.id))
        }
    }
}

/// The epics, as features of the program backlog, in the export's order.
async fn import_features(work: &mut Work, plan: &Plan) -> AppResult<Summary> {
    plan.progress.phase("epics");
    let mut out = Summary::default();
    let mut existing = keys::features(work.conn(), plan.program.0).await?;
    let mut touched: HashSet<i64> = HashSet::new();
    let mut order = Vec::new();
    for epic in &plan.epics {
        plan.progress.advance(1);
        let wsjf = match wsjf_of(epic) {
            Ok(w) => w,
            Err(e) => {
                out.refuse(&epic.key, ItemKind::Feature, e.message());
                continue;
            }
        };
        match existing.get(&epic.key) {
            Some(found) => {
                let change = feature_change(found, epic, wsjf);
                order.push(found.id);
                let Some(change) = change else {
                    continue;
                };
                let id = FeatureId(found.id);
                match work
                    .part(move |w| Box::pin(features::update_feature(w, id, change)))
                    .await?
                {
                    Ok(_) => {
                        touched.insert(found.id);
                        out.count(ItemKind::Feature).updated += 1;
                    }
                    Err(e) => out.refuse(&epic.key, ItemKind::Feature, e.message()),
                }
            }
            None => {
                let new = NewFeature {
                    title: epic.summary.clone(),
                    description: epic.description.clone(),
                    business_value: wsjf[0],
                    time_criticality: wsjf[1],
                    risk_reduction: wsjf[2],
                    job_size: wsjf[3],
                    target_increment_id: None,
                };
                let (program, key) = (plan.program, epic.key.clone());
                match work
                    .part(move |w| Box::pin(create_feature(w, program, key, new)))
                    .await?
                {
                    Ok(created) => {
                        order.push(created.id);
                        touched.insert(created.id);
                        out.count(ItemKind::Feature).created += 1;
                        existing.insert(epic.key.clone(), created);
                    }
                    Err(e) => out.refuse(&epic.key, ItemKind::Feature, e.message()),
                }
            }
        }
    }
    let ranks = feature_ranks(work.conn(), plan.program.0).await?;
    for (id, anchor, place) in moves(&order, &ranks) {
        let (id, anchor) = (FeatureId(id), FeatureId(anchor));
        work.part(move |w| Box::pin(features::rank_feature(w, id, anchor, place)))
            .await??;
        if touched.insert(id.0) {
            out.count(ItemKind::Feature).updated += 1;
        }
    }
    let unchanged = order.iter().filter(|id| !touched.contains(id)).count();
    out.count(ItemKind::Feature).unchanged += unchanged;
    Ok(out)
}

/// WSJF inputs as written; a value that is not a whole number refuses the
/// row (the use case checks the scale).
fn wsjf_of(epic: &Issue) -> AppResult<[Option<i32>; 4]> {
    const FIELDS: [&str; 4] = [
        "businessValue",
        "timeCriticality",
        "riskReduction",
        "jobSize",
    ];
    let mut out = [None; 4];
    for (i, written) in epic.wsjf.iter().enumerate() {
        if let Some(w) = written {
            out[i] = Some(jira::whole(FIELDS[i], w)?);
        }
    }
    Ok(out)
}

/// The change that brings `found` in line with `epic`; None when equal.
/// WSJF inputs the export does not have are left as they are.
fn feature_change(
    found: &feature::Model,
    epic: &Issue,
    wsjf: [Option<i32>; 4],
) -> Option<FeatureChange> {
    let mut change = FeatureChange::default();
    if found.title != epic.summary {
        change.title = Some(epic.summary.clone());
    }
    if found.description != epic.description {
        change.description = Some(epic.description.clone());
    }
    let current = [
        found.business_value,
        found.time_criticality,
        found.risk_reduction,
        found.job_size,
    ];
    let slots = [
        &mut change.business_value,
        &mut change.time_criticality,
        &mut change.risk_reduction,
        &mut change.job_size,
    ];
    for ((slot, now), new) in slots.into_iter().zip(current).zip(wsjf) {
        if new.is_some() && new != now {
            *slot = Some(new);
        }
    }
    (!change.field_names().is_empty()).then_some(change)
}

async fn create_feature(
    work: &mut Work,
    program: ProgramId,
    key: String,
    new: NewFeature,
) -> AppResult<feature::Model> {
    let mut created = features::create_feature(work, program, new).await?;
    feature::Entity::update_many()
        .col_expr(feature::Column::ExternalKey, Expr::value(key.clone()))
        .filter(feature::Column::Id.eq(created.id))
        .exec(work.conn())
        .await
        .map_err(|e| AppError::unique_violation(e, "another feature has this key"))?;
    created.external_key = Some(key);
    Ok(created)
}

/// What a row of a team becomes: its fields, feature, iteration, state.
struct Wanted {
    new: NewStory,
    /// Planned into this iteration; `None` inside: unplanned. Outer None:
    /// sprints are not imported.
    iteration: Option<Option<IterationId>>,
    state: StoryState,
}

/// One team's stories: the team (created when missing), each row created
/// or updated, its status followed, and the backlog put in the export's
/// order.
async fn import_team(work: &mut Work, plan: &Plan, t: usize) -> AppResult<Summary> {
    let (name, rows) = &plan.teams[t];
    plan.progress.phase(&format!("team {name}"));
    let mut out = Summary::default();
    let team = match find_or_create_team(work, plan, name, &mut out).await? {
        Ok(team) => team,
        Err(reason) => {
            for row in rows {
                out.refuse(&row.key, ItemKind::Story, reason.clone());
            }
            plan.progress.advance(rows.len());
            return Ok(out);
        }
    };
    let features = keys::features(work.conn(), plan.program.0).await?;
    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let mut existing = keys::stories(work.conn(), plan.program.0, &keys).await?;
    let sprints = match plan.increment {
        Some(increment) => {
            let names: Vec<&str> = rows.iter().filter_map(|r| r.sprint.as_deref()).collect();
            Some(sprint_iterations(work, plan.program, increment, &names).await?)
        }
        None => None,
    };
    let mut order = Vec::new();
    let mut touched = HashSet::new();
    for row in rows {
        plan.progress.advance(1);
        let wanted = match wanted(work, plan, row, &features, sprints.as_ref()).await? {
            Ok(w) => w,
            Err(reason) => {
                out.refuse(&row.key, ItemKind::Story, reason);
                continue;
            }
        };
        // (the story, whether it is new, whether it reached its status)
        let (story, created, followed) = match existing.remove(&row.key) {
            Some(found) => {
                if found.team_id != team.id {
                    out.note_refusal(
                        &row.key,
                        ItemKind::Story,
                        format!(
                            "stays in its team here: stories do not move between teams \
                             (the export says {name:?})"
                        ),
                    );
                }
                match update_story(work, &found, &wanted).await? {
                    Ok(Some(changed)) => {
                        touched.insert(found.id);
                        (changed, false, false)
                    }
                    Ok(None) => (found, false, false),
                    Err(e) => {
                        out.refuse(&row.key, ItemKind::Story, e.message());
                        continue;
                    }
                }
            }
            None => {
                let (team_id, new) = (TeamId(team.id), wanted.new.clone());
                let to = wanted.state;
                // Made and brought to its status in one part; when that is
                // refused, made alone, and its status followed step by step.
                let whole = work
                    .part(move |w| {
                        Box::pin(async move {
                            let (story, _) = stories::create_story(w, team_id, new).await?;
                            steps(w, StoryId(story.id), StoryState::Draft, to).await?;
                            Ok(story)
                        })
                    })
                    .await?;
                let made = match whole {
                    Ok(story) => Ok((story, true)),
                    Err(_) => {
                        let new = wanted.new.clone();
                        work.part(move |w| Box::pin(stories::create_story(w, team_id, new)))
                            .await?
                            .map(|(story, _)| (story, false))
                    }
                };
                match made {
                    Ok((story, followed)) => {
                        touched.insert(story.id);
                        (story, true, followed)
                    }
                    Err(e) => {
                        out.refuse(&row.key, ItemKind::Story, e.message());
                        continue;
                    }
                }
            }
        };
        if created {
            out.count(ItemKind::Story).created += 1;
        }
        let current = StoryState::parse(&story.state)?;
        let outcome = if followed {
            Ok(false)
        } else {
            follow_status(work, StoryId(story.id), current, wanted.state).await?
        };
        match outcome {
            Ok(moved) => {
                if moved {
                    touched.insert(story.id);
                }
            }
            Err(reason) => {
                out.note_refusal(
                    &row.key,
                    ItemKind::Story,
                    format!(
                        "status {:?} ({}) not reached: {reason}",
                        row.status,
                        wanted.state.as_str()
                    ),
                );
            }
        }
        if story.team_id == team.id {
            order.push(story.id);
        }
        if !created && touched.contains(&story.id) {
            out.count(ItemKind::Story).updated += 1;
        }
        if !created && !touched.contains(&story.id) {
            out.count(ItemKind::Story).unchanged += 1;
        }
    }
    let ranks = story_ranks(work.conn(), team.id).await?;
    for (id, anchor, place) in moves(&order, &ranks) {
        let (id, anchor) = (StoryId(id), StoryId(anchor));
        work.part(move |w| Box::pin(stories::rank_story(w, id, anchor, place)))
            .await??;
        if touched.insert(id.0) {
            // It was counted unchanged; a move is a change.
            let counts = out.count(ItemKind::Story);
            counts.unchanged -= 1;
            counts.updated += 1;
        }
    }
    Ok(out)
}

/// The team named `name`, created (with its PO) when the program has none.
/// Err: why the team cannot be had (its rows are refused for it).
async fn find_or_create_team(
    work: &mut Work,
    plan: &Plan,
    name: &str,
    out: &mut Summary,
) -> AppResult<Result<team::Model, String>> {
    let found = team::Entity::find()
        .filter(team::Column::ProgramId.eq(plan.program.0))
        .filter(team::Column::Name.eq(name))
        .one(work.conn())
        .await?;
    if let Some(team) = found {
        out.count(ItemKind::Team).unchanged += 1;
        return Ok(Ok(team));
    }
    let po = match (&plan.product_owner, work.actor().user_id()) {
        (Some(po), _) => po.clone(),
        (None, Some(me)) => Someone::Id(crate::ids::UserId(me)),
        // The built-in administrator is not a person: the teams it
        // creates get the program's Product Manager as their PO.
        (None, None) => {
            let program = work.program(plan.program).await?;
            Someone::Id(crate::ids::UserId(program.product_manager_id))
        }
    };
    let (program, team_name) = (plan.program, name.to_owned());
    match work
        .part(move |w| Box::pin(teams::create_team(w, program, team_name, po)))
        .await?
    {
        Ok(team) => {
            out.count(ItemKind::Team).created += 1;
            Ok(Ok(team))
        }
        Err(e) => {
            let reason = format!("team {name:?}: {}", e.message());
            out.refuse(name, ItemKind::Team, reason.clone());
            Ok(Err(reason))
        }
    }
}

/// What `row` asks for; Err: why the row is refused before any change.
async fn wanted(
    work: &mut Work,
    plan: &Plan,
    row: &Issue,
    features: &HashMap<String, feature::Model>,
    sprints: Option<&HashMap<String, Result<IterationId, String>>>,
) -> AppResult<Result<Wanted, String>> {
    let points = match row.points.as_deref().map(|p| jira::whole("points", p)) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return Ok(Err(e.message().to_owned())),
    };
    let feature_id = match &row.parent {
        None => None,
        Some(parent) => {
            let key = plan.keys_by_id.get(parent).unwrap_or(parent);
            match features.get(key) {
                Some(f) => Some(FeatureId(f.id)),
                None => return Ok(Err(missing_feature(work, plan, key).await?)),
            }
        }
    };
    let iteration = match sprints {
        None => None,
        Some(map) => match row.sprint.as_deref().map(|s| map.get(s)) {
            None => Some(None),
            Some(Some(Ok(it))) => Some(Some(*it)),
            Some(Some(Err(reason))) => return Ok(Err(reason.clone())),
            Some(None) => Some(None),
        },
    };
    let criteria = row.acceptance_criteria.clone().unwrap_or_default();
    let state = match row.progress {
        Status::ToDo if points.is_some() && !criteria.is_empty() => StoryState::Ready,
        Status::ToDo => StoryState::Draft,
        Status::InProgress => StoryState::InProgress,
        Status::Done if plan.accept_done && row.resolution.eq_ignore_ascii_case("done") => {
            StoryState::Accepted
        }
        Status::Done => StoryState::Done,
    };
    Ok(Ok(Wanted {
        new: NewStory {
            feature_id,
            title: row.summary.clone(),
            description: row.description.clone(),
            acceptance_criteria: criteria,
            points,
            external_key: Some(row.key.clone()),
            // Planned as it is made; an update plans through `iteration`.
            iteration_id: iteration.flatten(),
        },
        iteration,
        state,
    }))
}

/// Why a story's epic cannot be its feature.
async fn missing_feature(work: &mut Work, plan: &Plan, key: &str) -> AppResult<String> {
    let elsewhere = feature::Entity::find()
        .filter(feature::Column::ExternalKey.eq(key))
        .filter(feature::Column::ProgramId.ne(plan.program.0))
        .one(work.conn())
        .await?;
    Ok(match elsewhere {
        Some(_) => format!(
            "its feature {key} belongs to another program; a story's feature must be of its \
             own program"
        ),
        None if plan.keys.contains(key) => {
            format!("its epic {key} was not imported (see its own row)")
        }
        None => format!("its epic {key} is neither in this export nor in the program"),
    })
}

/// Brings an imported story's fields in line with its row (one part):
/// the story as changed, None when nothing differed. A story past DRAFT keeps its points and
/// acceptance criteria, so a row that takes them away moves it back to
/// DRAFT first (its status is followed afterwards).
async fn update_story(
    work: &mut Work,
    found: &story::Model,
    wanted: &Wanted,
) -> AppResult<AppResult<Option<story::Model>>> {
    let new = &wanted.new;
    let mut change = StoryChange::default();
    if found.title != new.title {
        change.title = Some(new.title.clone());
    }
    if found.description != new.description {
        change.description = Some(new.description.clone());
    }
    if found.acceptance_criteria != new.acceptance_criteria {
        change.acceptance_criteria = Some(new.acceptance_criteria.clone());
    }
    if found.points != new.points {
        change.points = Some(new.points);
    }
    if found.feature_id != new.feature_id.map(|f| f.0) {
        change.feature_id = Some(new.feature_id);
    }
    if let Some(iteration) = wanted.iteration
        && found.iteration_id != iteration.map(|i| i.0)
    {
        change.iteration_id = Some(iteration);
    }
    if change.field_names().is_empty() {
        return Ok(Ok(None));
    }
    let clears = (change.points == Some(None))
        || change
            .acceptance_criteria
            .as_ref()
            .is_some_and(|c| c.is_empty());
    let state = StoryState::parse(&found.state)?;
    let id = StoryId(found.id);
    let outcome = work
        .part(move |w| {
            Box::pin(async move {
                if clears {
                    step_down_to_draft(w, id, state).await?;
                }
                Ok(Some(stories::update_story(w, id, change).await?.0))
            })
        })
        .await?;
    Ok(outcome)
}

async fn step_down_to_draft(work: &mut Work, id: StoryId, mut state: StoryState) -> AppResult<()> {
    while let Some(lower) = step_toward(state, StoryState::Draft) {
        stories::set_story_state(work, id, lower).await?;
        state = lower;
    }
    Ok(())
}

/// The next state from `from` on the way to `to` (one step of the story
/// lifecycle), if any.
fn step_toward(from: StoryState, to: StoryState) -> Option<StoryState> {
    use StoryState::*;
    let level = |s: StoryState| match s {
        Draft => 0,
        Ready => 1,
        InProgress => 2,
        Done => 3,
        Accepted => 4,
    };
    let (f, t) = (level(from), level(to));
    if f == t || from == Accepted {
        return None;
    }
    let next = if t > f { f + 1 } else { f - 1 };
    [Draft, Ready, InProgress, Done, Accepted]
        .into_iter()
        .find(|s| level(*s) == next)
}

/// Moves a story step by step to `to`, each step a use case. All steps
/// are tried as one part first; when one is refused, they are made again
/// one part each, so the steps before the refused one are kept.
/// Ok(whether it moved); Err(why it stopped short).
async fn follow_status(
    work: &mut Work,
    id: StoryId,
    state: StoryState,
    to: StoryState,
) -> AppResult<Result<bool, String>> {
    if state == StoryState::Accepted && to != StoryState::Accepted {
        return Ok(if to == StoryState::Done {
            Ok(false)
        } else {
            Err("an accepted story is final here".into())
        });
    }
    if step_toward(state, to).is_none() {
        return Ok(Ok(false));
    }
    let all = work
        .part(move |w| Box::pin(steps(w, id, state, to)))
        .await?;
    if all.is_ok() {
        return Ok(Ok(true));
    }
    let (mut at, mut moved) = (state, false);
    while let Some(next) = step_toward(at, to) {
        match work.part(move |w| Box::pin(step(w, id, next))).await? {
            Ok(()) => {
                moved = true;
                at = next;
            }
            Err(e) => return Ok(Err(format!("{} (left at {})", e.message(), at.as_str()))),
        }
    }
    Ok(Ok(moved))
}

/// Every step from `state` to `to`, each through its use case.
async fn steps(work: &mut Work, id: StoryId, state: StoryState, to: StoryState) -> AppResult<()> {
    let mut at = state;
    while let Some(next) = step_toward(at, to) {
        step(work, id, next).await?;
        at = next;
    }
    Ok(())
}

/// One step of the lifecycle, through its use case.
async fn step(work: &mut Work, id: StoryId, next: StoryState) -> AppResult<()> {
    if next == StoryState::Accepted {
        stories::accept_story(work, id).await?;
    } else {
        stories::set_story_state(work, id, next).await?;
    }
    Ok(())
}

/// Each sprint of a team's rows → an iteration of the increment: a sprint
/// whose name holds the increment's name and ends with an iteration's
/// number is that iteration; the others take the remaining iterations in
/// order of their trailing number (else of appearance). A sprint left over
/// is refused with a reason.
async fn sprint_iterations(
    work: &mut Work,
    program: ProgramId,
    increment: IncrementId,
    names: &[&str],
) -> AppResult<HashMap<String, Result<IterationId, String>>> {
    let inc =
        increment::service::find_in_program(work.conn(), "incrementId", program.0, increment.0)
            .await?;
    let iterations = increment::service::iterations_of(work.conn(), inc.id).await?;
    Ok(match_sprints(&inc.name, &iterations, names))
}

fn trailing_number(name: &str) -> Option<i64> {
    let digits: String = name
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn match_sprints(
    increment_name: &str,
    iterations: &[iteration::Model],
    names: &[&str],
) -> HashMap<String, Result<IterationId, String>> {
    let mut distinct: Vec<&str> = Vec::new();
    for n in names {
        if !distinct.contains(n) {
            distinct.push(n);
        }
    }
    let mut out = HashMap::new();
    let mut taken = HashSet::new();
    let inc = increment_name.to_lowercase();
    let mut rest = Vec::new();
    for name in distinct {
        let by_name = (!inc.is_empty() && name.to_lowercase().contains(&inc))
            .then(|| trailing_number(name))
            .flatten()
            .and_then(|n| iterations.iter().find(|i| i64::from(i.number) == n));
        match by_name {
            Some(it) if taken.insert(it.id) => {
                out.insert(name.to_owned(), Ok(IterationId(it.id)));
            }
            _ => rest.push(name),
        }
    }
    rest.sort_by_key(|n| trailing_number(n).unwrap_or(i64::MAX));
    let mut free = iterations.iter().filter(|i| !taken.contains(&i.id));
    for name in rest {
        let found = match free.next() {
            Some(it) => Ok(IterationId(it.id)),
            None => Err(format!(
                "sprint {name:?} has no iteration left in increment {increment_name:?} \
                 ({} iterations)",
                iterations.len()
            )),
        };
        out.insert(name.to_owned(), found);
    }
    out
}

/// The Blocks links whose blocked story is of team `t`, as dependencies:
/// COMMITTED to the blocking story's iteration when it is planned,
/// REQUESTED otherwise.
async fn import_links(work: &mut Work, plan: &Plan, t: usize) -> AppResult<Summary> {
    let (name, rows) = &plan.teams[t];
    let mut out = Summary::default();
    let mine: HashSet<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let links: Vec<&(String, String)> = plan
        .links
        .iter()
        .filter(|(blocked, _)| mine.contains(blocked.as_str()))
        .collect();
    if links.is_empty() {
        return Ok(out);
    }
    plan.progress.phase(&format!("links of team {name}"));
    let mut keys: Vec<String> = links
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    keys.sort();
    keys.dedup();
    let found = keys::stories(work.conn(), plan.program.0, &keys).await?;
    for (blocked, blocking) in links {
        let refuse = |out: &mut Summary, reason: String| {
            out.refuse(blocked, ItemKind::Dependency, reason);
        };
        let (Some(dependent), Some(provider)) = (found.get(blocked), found.get(blocking)) else {
            let missing = if found.contains_key(blocked) {
                blocking
            } else {
                blocked
            };
            refuse(
                &mut out,
                format!(
                    "blocked by {blocking}: {missing} is not a story of the program (an epic, \
                     a refused row, or not exported)"
                ),
            );
            continue;
        };
        let existing = dependency::Entity::find()
            .filter(dependency::Column::DependentStoryId.eq(dependent.id))
            .filter(dependency::Column::ProviderStoryId.eq(provider.id))
            .one(work.conn())
            .await?;
        let commit_to = provider.iteration_id.map(IterationId);
        match existing {
            Some(dep) => {
                let requested = dep.state == DependencyState::Requested.as_str();
                match (requested, commit_to) {
                    (true, Some(iteration)) => {
                        let id = DependencyId(dep.id);
                        match work
                            .part(move |w| {
                                Box::pin(dependencies::commit_dependency(w, id, iteration))
                            })
                            .await?
                        {
                            Ok(_) => out.count(ItemKind::Dependency).updated += 1,
                            Err(e) => {
                                refuse(&mut out, format!("blocked by {blocking}: {}", e.message()))
                            }
                        }
                    }
                    _ => out.count(ItemKind::Dependency).unchanged += 1,
                }
            }
            None => {
                let request = dependencies::Request {
                    dependent: StoryId(dependent.id),
                    provider: StoryId(provider.id),
                    needed_by: None,
                };
                match work
                    .part(move |w| Box::pin(request_link(w, request, commit_to)))
                    .await?
                {
                    Ok(()) => out.count(ItemKind::Dependency).created += 1,
                    Err(e) => refuse(&mut out, format!("blocked by {blocking}: {}", e.message())),
                }
            }
        }
    }
    Ok(out)
}

async fn request_link(
    work: &mut Work,
    request: dependencies::Request,
    commit_to: Option<IterationId>,
) -> AppResult<()> {
    let dep = dependencies::request_dependency(work, request).await?;
    if let Some(iteration) = commit_to
        && dep.state == DependencyState::Requested.as_str()
    {
        dependencies::commit_dependency(work, DependencyId(dep.id), iteration).await?;
    }
    Ok(())
}

/// The program's imported features and stories this export does not have.
async fn left_alone(work: &mut Work, plan: &Plan) -> AppResult<Summary> {
    let mut out = Summary::default();
    let features = feature::Entity::find()
        .filter(feature::Column::ProgramId.eq(plan.program.0))
        .filter(feature::Column::ExternalKey.is_not_null())
        .order_by_asc(feature::Column::Id)
        .all(work.conn())
        .await?;
    let team_ids = team_ids(work.conn(), plan.program.0).await?;
    let stories = story::Entity::find()
        .filter(story::Column::TeamId.is_in(team_ids))
        .filter(story::Column::ExternalKey.is_not_null())
        .order_by_asc(story::Column::Id)
        .all(work.conn())
        .await?;
    let keys = features
        .into_iter()
        .filter_map(|f| f.external_key)
        .chain(stories.into_iter().filter_map(|s| s.external_key));
    out.not_in_export = keys.filter(|k| !plan.keys.contains(k)).collect();
    Ok(out)
}

async fn team_ids(conn: &impl ConnectionTrait, program: i64) -> AppResult<Vec<i64>> {
    Ok(team::Entity::find()
        .filter(team::Column::ProgramId.eq(program))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect())
}

async fn feature_ranks(conn: &impl ConnectionTrait, program: i64) -> AppResult<Vec<i64>> {
    Ok(feature::Entity::find()
        .filter(feature::Column::ProgramId.eq(program))
        .order_by_asc(feature::Column::RankKey)
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect())
}

async fn story_ranks(conn: &impl ConnectionTrait, team: i64) -> AppResult<Vec<i64>> {
    Ok(story::Entity::find()
        .filter(story::Column::TeamId.eq(team))
        .filter(story::Column::ExternalKey.is_not_null())
        .order_by_asc(story::Column::RankKey)
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect())
}

/// The fewest moves that put `wanted` (ids in the wanted order) in that
/// order, given `ranked` (ids in their current order; may hold others):
/// the longest run already in order stays, each other item goes right
/// after the one before it in the wanted order (the first, right before
/// the first that stays). (id, anchor, place) in the order to apply.
fn moves(wanted: &[i64], ranked: &[i64]) -> Vec<(i64, i64, Place)> {
    let position: HashMap<i64, usize> = ranked.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let at: Vec<usize> = wanted
        .iter()
        .map(|id| position.get(id).copied().unwrap_or(usize::MAX))
        .collect();
    let stays = longest_increasing(&at);
    let Some(&first_staying) = stays.iter().min() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..wanted.len() {
        if stays.contains(&i) {
            continue;
        }
        if i == 0 {
            out.push((wanted[0], wanted[first_staying], Place::Before));
        } else {
            out.push((wanted[i], wanted[i - 1], Place::After));
        }
    }
    out
}

/// Indices of a longest strictly increasing subsequence of `values`.
fn longest_increasing(values: &[usize]) -> HashSet<usize> {
    // tails[k]: index of the smallest tail of an increasing run of length k+1.
    let mut tails: Vec<usize> = Vec::new();
    let mut before: Vec<Option<usize>> = vec![None; values.len()];
    for (i, &v) in values.iter().enumerate() {
        let k = tails.partition_point(|&t| values[t] < v);
        before[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut out = HashSet::new();
    let mut cursor = tails.last().copied();
    while let Some(i) = cursor {
        out.insert(i);
        cursor = before[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the moves to a list, as the ranked list would.
    fn apply(mut list: Vec<i64>, moves: &[(i64, i64, Place)]) -> Vec<i64> {
        for &(id, anchor, place) in moves {
            list.retain(|x| *x != id);
            let at = list.iter().position(|x| *x == anchor).unwrap();
            list.insert(if place == Place::Before { at } else { at + 1 }, id);
        }
        list
    }

    #[test]
    fn few_moves_put_a_list_in_order() {
        let cases: [(&[i64], &[i64], usize); 5] = [
            (&[1, 2, 3, 4], &[1, 2, 3, 4], 0),
            (&[4, 1, 2, 3], &[1, 2, 3, 4], 1),
            (&[2, 1], &[1, 2], 1),
            (&[3, 2, 1], &[1, 2, 3], 2),
            // Items the export does not have (9, 8) stay where they are.
            (&[1, 3, 2], &[9, 1, 8, 2, 3], 1),
        ];
        for (wanted, ranked, count) in cases {
            let moves = moves(wanted, ranked);
            assert_eq!(moves.len(), count, "{wanted:?} from {ranked:?}");
            let after = apply(ranked.to_vec(), &moves);
            let imported: Vec<i64> = after.into_iter().filter(|x| wanted.contains(x)).collect();
            assert_eq!(imported, wanted);
        }
    }

    #[test]
    fn sprints_match_by_name_then_by_order() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let its: Vec<iteration::Model> = (1..=3)
            .map(|n| iteration::Model {
                id: 100 + n,
                increment_id: 1,
                number: n as i32,
                start_date: day,
                end_date: day,
            })
            .collect();
        let m = match_sprints(
            "PI 7",
            &its,
            &[
                "Shop Sprint 12",
                "PI 7 iteration 1",
                "Shop Sprint 11",
                "Extra 13",
                "X",
            ],
        );
        assert_eq!(m["PI 7 iteration 1"], Ok(IterationId(101)));
        assert_eq!(m["Shop Sprint 11"], Ok(IterationId(102)));
        assert_eq!(m["Shop Sprint 12"], Ok(IterationId(103)));
        assert!(m["Extra 13"].is_err());
        assert!(m["X"].is_err());
    }

    #[test]
    fn status_steps_follow_the_lifecycle() {
        use StoryState::*;
        assert_eq!(step_toward(Draft, Done), Some(Ready));
        assert_eq!(step_toward(Done, Draft), Some(InProgress));
        assert_eq!(step_toward(Done, Accepted), Some(Accepted));
        assert_eq!(step_toward(Accepted, Draft), None);
        assert_eq!(step_toward(Ready, Ready), None);
    }
}
