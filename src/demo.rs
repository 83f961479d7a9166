//! Sample data: a realistic program for newcomers, tests and benchmarks,
//! deterministic for a given size.
//!
//! The demo replays eight weeks of a program through the use cases, as the
//! people who would have done each step (the admin creates the people and
//! the program, the PM plans, members write stories and ask, POs decide and
//! accept) at the time they would have done it, in one unit of work: every
//! rule applies, and the program's activity feed tells its history.

use chrono::{DateTime, Duration, Utc};

use crate::{
    auth::{Actor, policy::Someone},
    backlog::{lifecycle::StoryState, service::NewStory, usecase as stories},
    clarification::usecase::{self as clarifications, About},
    clock::ManualClock,
    db::Store,
    dependency::usecase::{self as dependencies, Request},
    error::AppResult,
    feature::{service::NewFeature, state::FeatureState, usecase as features, wsjf::SCALE},
    ids::{FeatureId, IncrementId, IterationId, ObjectiveId, ProgramId, StoryId, TeamId, UserId},
    increment::usecase::{self as increments, NewIncrement},
    objective::usecase::{self as objectives, NewObjective},
    planning::usecase as planning,
    program::usecase as programs,
    team::usecase as teams,
    user::usecase as users,
    work::{self, Work},
};

/// What `demo` created, with tokens to try it.
pub struct Demo {
    pub program_id: i64,
    pub pm_token: String,
    /// (team name, PO token), teams by name as `Program.teams` lists them.
    pub po_tokens: Vec<(String, String)>,
    /// (team name, token) of a member of the first of those teams.
    pub member_token: (String, String),
    pub stories: usize,
    pub dependencies: usize,
    pub clarifications: usize,
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The history's calendar: phases of the eight weeks, each spreading its
/// changes evenly over its window, so times only move forward.
struct Calendar {
    start: DateTime<Utc>,
}

impl Calendar {
    /// The time of change `i` of `n` in the window from `from_day` to `to_day`.
    fn at(&self, from_day: f64, to_day: f64, i: usize, n: usize) -> DateTime<Utc> {
        let span = (to_day - from_day) * 86_400.0;
        let offset = from_day * 86_400.0 + span * i as f64 / n.max(1) as f64;
        self.start + Duration::seconds(offset as i64)
    }
}

fn person(id: i64) -> Actor {
    Actor::User { id, admin: false }
}

struct Team {
    id: TeamId,
    name: String,
    po: i64,
    members: Vec<i64>,
}

/// Loads a program of `teams` teams with `stories_per_team` stories each,
/// whose history ends at `now`.
pub async fn load(
    store: &Store,
    now: DateTime<Utc>,
    teams: usize,
    stories_per_team: usize,
) -> AppResult<Demo> {
    let start = now - Duration::days(56);
    let clock = ManualClock::new(start);
    work::perform(store, &clock, Actor::BuiltinAdmin, |w| {
        Box::pin(replay(w, now, teams.max(1), stories_per_team))
    })
    .await
}

async fn replay(
    work: &mut Work,
    now: DateTime<Utc>,
    team_count: usize,
    stories_per_team: usize,
) -> AppResult<Demo> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (team_count as u64) << 20 ^ stories_per_team as u64);
    let cal = Calendar {
        start: now - Duration::days(56),
    };
    let tag = now.timestamp_millis();

    // Day 0: the admin creates the people and the program.
    work.act_as(Actor::BuiltinAdmin);
    let people = 1 + team_count * 4;
    let mut made = 0;
    let mut user = async |work: &mut Work, name: String, email: String| {
        work.set_time(cal.at(0.0, 0.5, made, people));
        made += 1;
        users::create_user(work, name, email, false).await
    };
    let (pm, pm_token) = user(work, "Pat Manager".into(), format!("pm.{tag}@demo.example")).await?;
    let mut po_tokens = Vec::new();
    let mut staff = Vec::new();
    for t in 1..=team_count {
        let (po, token) = user(
            work,
            format!("{} PO", team_name(t - 1)),
            format!("po{t}.{tag}@demo.example"),
        )
        .await?;
        po_tokens.push((team_name(t - 1), token));
        let mut members = Vec::new();
        for m in 1..=3 {
            let (member, token) = user(
                work,
                format!("{} member {m}", team_name(t - 1)),
                format!("m{t}.{m}.{tag}@demo.example"),
            )
            .await?;
            members.push((member.id, member.email, token));
        }
        staff.push((po.id, po.email, members));
    }
    // A client that takes the first team the API lists and the first PO
    // printed gets a team and its own PO.
    let first = (0..staff.len()).min_by_key(|&t| team_name(t));
    let member_token = first
        .and_then(|t| Some((team_name(t), staff[t].2.first()?.2.clone())))
        .unwrap_or_else(|| ("no team".to_owned(), pm_token.clone()));
    po_tokens.sort_by(|a, b| a.0.cmp(&b.0));
    work.set_time(cal.at(0.5, 1.0, 0, 1));
    let program = programs::create_program(
        work,
        format!("Demo train ({team_count} teams)"),
        "Customers check out in one click, on every device.".into(),
        UserId(pm.id),
    )
    .await?;
    let program_id = ProgramId(program.id);

    // Day 1: the PM forms the teams (naming the people new to the program
    // by email) and plans two increments of five two-week iterations, the
    // first under way.
    work.act_as(person(pm.id));
    let mut team_list = Vec::new();
    for (i, (po, po_email, members)) in staff.iter().enumerate() {
        work.set_time(cal.at(1.0, 2.0, i, staff.len()));
        let name = team_name(i);
        let po_named = Someone::Email(po_email.clone());
        let team = teams::create_team(work, program_id, name.clone(), po_named).await?;
        for (_, email, _) in members {
            let member = Someone::Email(email.clone());
            teams::add_team_member(work, TeamId(team.id), member).await?;
        }
        team_list.push(Team {
            id: TeamId(team.id),
            name,
            po: *po,
            members: members.iter().map(|(m, _, _)| *m).collect(),
        });
    }
    let first_day = (now - Duration::days(28)).date_naive();
    let mut pis = Vec::new();
    let mut iterations: Vec<(IterationId, chrono::NaiveDate)> = Vec::new();
    for (i, day) in [first_day, first_day + Duration::days(70)]
        .into_iter()
        .enumerate()
    {
        let new = NewIncrement {
            name: format!("PI {}", i + 1),
            start_date: day,
            iteration_count: 5,
            iteration_length_days: 14,
        };
        let pi = increments::create_increment(work, program_id, new).await?;
        for it in crate::increment::service::iterations_of(work.conn(), pi.id).await? {
            iterations.push((IterationId(it.id), it.start_date));
        }
        pis.push(IncrementId(pi.id));
    }

    // Days 2-7: the PM fills the program backlog, three features per team,
    // estimated with WSJF, most of them planned, and moves them along.
    let feature_count = team_count * 3;
    let mut feature_ids = Vec::new();
    for n in 0..feature_count {
        work.set_time(cal.at(2.0, 7.0, n, feature_count));
        let target = match rng.below(3) {
            0 => None,
            i => Some(pis[(i - 1).min(pis.len() - 1)]),
        };
        let feature = features::create_feature(
            work,
            program_id,
            NewFeature {
                title: feature_title(n),
                description: "A capability customers asked for.".into(),
                business_value: Some(rng.pick(&SCALE)),
                time_criticality: Some(rng.pick(&SCALE)),
                risk_reduction: Some(rng.pick(&SCALE)),
                job_size: Some(rng.pick(&SCALE)),
                target_increment_id: target,
            },
        )
        .await?;
        let steps = rng.pick(&[0, 1, 2, 3, 3, 4]);
        let path = [
            FeatureState::Analyzing,
            FeatureState::Backlog,
            FeatureState::Implementing,
            FeatureState::Done,
        ];
        for state in path.into_iter().take(steps) {
            features::set_feature_state(work, FeatureId(feature.id), state).await?;
        }
        feature_ids.push(FeatureId(feature.id));
    }
    // Day 7: the PM hands most features to one or two teams; the stories
    // written next allocate the rest.
    for (n, feature) in feature_ids.iter().enumerate() {
        work.set_time(cal.at(7.0, 7.0, n, feature_ids.len()));
        if rng.chance(25) {
            continue;
        }
        let first = rng.below(team_list.len());
        let mut to = vec![first];
        if team_list.len() > 1 && rng.chance(40) {
            to.push((first + 1) % team_list.len());
        }
        for t in to {
            features::allocate_feature(
                work,
                *feature,
                team_list[t].id,
                "Please break this down before PI planning.".into(),
            )
            .await?;
        }
    }

    // Days 7-14: members write the stories, the team plans most of them
    // into an iteration.
    let points = [1, 2, 3, 5, 8, 13];
    let total_stories = team_count * stories_per_team;
    let mut all = Vec::new();
    let mut i = 0;
    for (team_index, team) in team_list.iter().enumerate() {
        for s in 0..stories_per_team {
            work.set_time(cal.at(7.0, 14.0, i, total_stories));
            i += 1;
            work.act_as(person(team.members[s % team.members.len()]));
            let planned = rng
                .chance(70)
                .then(|| iterations[rng.below(iterations.len())]);
            let target = match planned {
                Some((_, start)) if start < first_day + Duration::days(28) => rng.pick(&[
                    StoryState::Accepted,
                    StoryState::Accepted,
                    StoryState::Done,
                    StoryState::InProgress,
                ]),
                Some(_) => rng.pick(&[
                    StoryState::Ready,
                    StoryState::Ready,
                    StoryState::InProgress,
                    StoryState::Draft,
                ]),
                None => rng.pick(&[StoryState::Draft, StoryState::Draft, StoryState::Ready]),
            };
            let ready = target != StoryState::Draft;
            let story = stories::create_story(
                work,
                team.id,
                NewStory {
                    feature_id: (!rng.chance(10)).then(|| rng.pick(&feature_ids)),
                    title: story_title(team_index, s),
                    description: "As a customer, I want ...".into(),
                    acceptance_criteria: if ready || rng.chance(50) {
                        "Given ... when ... then ...".into()
                    } else {
                        String::new()
                    },
                    points: (ready || rng.chance(50)).then(|| rng.pick(&points)),
                    external_key: None,
                    iteration_id: planned.map(|(iteration, _)| iteration),
                },
            )
            .await?
            .0;
            all.push((StoryId(story.id), team.id, target));
        }
    }

    // Days 14-42: the teams work; each step of the lifecycle is a round,
    // so cycle times span weeks. POs accept what is done.
    let rounds = [
        (StoryState::Ready, 14.0, 21.0),
        (StoryState::InProgress, 21.0, 28.0),
        (StoryState::Done, 28.0, 38.0),
        (StoryState::Accepted, 38.0, 42.0),
    ];
    for (round, (state, from, to)) in rounds.into_iter().enumerate() {
        let moving: Vec<&(StoryId, TeamId, StoryState)> = all
            .iter()
            .filter(|(_, _, target)| rank(*target) > round)
            .collect();
        for (n, (story, team, _)) in moving.iter().enumerate() {
            work.set_time(cal.at(from, to, n, moving.len()));
            let team = team_of(&team_list, *team);
            if state == StoryState::Accepted {
                work.act_as(person(team.po));
                stories::accept_story(work, *story).await?;
            } else {
                work.act_as(person(team.members[n % team.members.len()]));
                stories::set_story_state(work, *story, state).await?;
            }
        }
    }

    // Days 42-49: about half a dependency per story, mostly across teams.
    // Edges go from a later story to an earlier one, so there is no cycle.
    // The provider's PO commits most, declines some.
    let mut pairs = std::collections::HashSet::new();
    let mut requested = Vec::new();
    let wanted = all.len() / 2;
    for n in 0..wanted {
        let d = rng.below(all.len());
        let (dependent, dependent_team, _) = all[d];
        let across = rng.chance(85);
        let candidates: Vec<&(StoryId, TeamId, StoryState)> = all[..d]
            .iter()
            .filter(|(_, team, _)| (*team != dependent_team) == across)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let (provider, provider_team, _) = *candidates[rng.below(candidates.len())];
        if !pairs.insert((dependent, provider)) {
            continue;
        }
        work.set_time(cal.at(42.0, 46.0, n, wanted));
        let team = team_of(&team_list, dependent_team);
        work.act_as(person(team.members[n % team.members.len()]));
        let dep = dependencies::request_dependency(
            work,
            Request {
                dependent,
                provider,
                needed_by: None,
            },
        )
        .await?;
        requested.push((dep, provider_team));
    }
    let open: Vec<_> = requested
        .iter()
        .filter(|(dep, _)| dep.state == "REQUESTED")
        .collect();
    for (n, (dep, provider_team)) in open.iter().enumerate() {
        work.set_time(cal.at(46.0, 49.0, n, open.len()));
        work.act_as(person(team_of(&team_list, *provider_team).po));
        match rng.below(5) {
            0 => {}
            1 => {
                let reason = "No capacity this PI".to_owned();
                dependencies::decline_dependency(work, dep_id(dep), reason).await?;
            }
            _ => {
                let (iteration, _) = iterations[rng.below(iterations.len().min(5))];
                dependencies::commit_dependency(work, dep_id(dep), iteration).await?;
            }
        }
    }

    // Day 49: each PO sets the team's capacity per iteration near what is
    // planned there (commitments included); about a third are overloaded.
    let team_ids: Vec<i64> = team_list.iter().map(|t| t.id.0).collect();
    let iteration_ids: Vec<i64> = iterations.iter().map(|(i, _)| i.0).collect();
    let loads = crate::planning::service::loads(work.conn(), &team_ids, &iteration_ids).await?;
    for (n, team) in team_list.iter().enumerate() {
        work.set_time(cal.at(49.0, 49.0, n, team_list.len()));
        work.act_as(person(team.po));
        for (iteration, _) in &iterations {
            let load = loads.get(&(team.id.0, iteration.0)).copied().unwrap_or(0);
            let points = (load * rng.pick(&[8, 9, 10, 11, 12, 13]) / 10).clamp(5, 1000);
            planning::set_capacity(work, team.id, *iteration, Some(points)).await?;
        }
    }

    // Days 49-56: about half a clarification per story, asked by members of
    // other teams; the PO or the PM answers hours to days later, and most
    // askers accept the answer.
    let mut asked = Vec::new();
    let questions = all.len() / 2;
    for n in 0..questions {
        let (story, story_team, _) = all[rng.below(all.len())];
        let asker_team = &team_list[rng.below(team_list.len())];
        let asker = asker_team.members[n % asker_team.members.len()];
        let feature = rng.chance(15).then(|| rng.pick(&feature_ids));
        let about = feature.map_or(About::Story(story), About::Feature);
        work.set_time(cal.at(49.0, 52.0, n, questions));
        work.act_as(person(asker));
        let item = clarifications::ask_clarification(
            work,
            about,
            "Which edge cases are in scope?".into(),
            rng.chance(20),
        )
        .await?;
        let answerer = if feature.is_some() {
            pm.id
        } else {
            team_of(&team_list, story_team).po
        };
        let fate = rng.below(4);
        asked.push((item.id, asker, answerer, fate));
    }
    // Answered in another order than asked, so response times vary.
    let mut answering: Vec<_> = asked.iter().filter(|(_, _, _, fate)| *fate > 0).collect();
    for n in 0..answering.len() {
        let other = rng.below(answering.len());
        answering.swap(n, other);
    }
    for (n, (id, asker, answerer, fate)) in answering.iter().enumerate() {
        work.set_time(cal.at(52.0, 55.0, n, answering.len()));
        work.act_as(person(*answerer));
        let id = crate::ids::ClarificationId(*id);
        clarifications::answer_clarification(work, id, "Only the ones in the criteria.".into())
            .await?;
        if *fate > 1 {
            work.act_as(person(*asker));
            clarifications::resolve_clarification(work, id).await?;
        }
    }

    // Day 55: PI objectives, two committed and one stretch per team and
    // increment, set by the PO; the PM scores the first increment's.
    for (n, team) in team_list.iter().enumerate() {
        work.set_time(cal.at(55.0, 55.9, n, team_list.len()));
        for (i, pi) in pis.iter().enumerate() {
            for (o, committed) in [true, true, false].into_iter().enumerate() {
                work.act_as(person(team.po));
                let objective = objectives::set_objective(
                    work,
                    NewObjective {
                        team: team.id,
                        increment: *pi,
                        description: format!("Objective {} of {}", o + 1, team.name),
                        planned_value: rng.below(10) as i32 + 1,
                        committed,
                    },
                )
                .await?;
                if i == 0 {
                    work.act_as(person(pm.id));
                    let actual = rng.below(11) as i32;
                    objectives::score_objective(work, ObjectiveId(objective.id), actual).await?;
                }
            }
        }
    }

    // Day 55.5: ahead of planning the next increment, the PM hands its
    // features to one more team each (not broken down yet), and a member
    // asks the PM a blocking question about the first.
    if let Some(next) = pis.last() {
        let upcoming: Vec<FeatureId> = features_targeting(work, *next).await?;
        for (n, feature) in upcoming.iter().enumerate() {
            work.set_time(cal.at(55.5, 55.8, n, upcoming.len()));
            work.act_as(person(pm.id));
            let allocated =
                crate::feature::service::allocations_of(work.conn(), &[feature.0]).await?;
            if let Some(team) = team_list
                .iter()
                .find(|t| allocated.iter().all(|a| a.team_id != t.id.0))
            {
                features::allocate_feature(
                    work,
                    *feature,
                    team.id,
                    "Yours for the next PI.".into(),
                )
                .await?;
            }
            if n == 0 {
                let asker = team_list[0].members[0];
                work.act_as(person(asker));
                clarifications::ask_clarification(
                    work,
                    About::Feature(*feature),
                    "Does this include returns?".into(),
                    true,
                )
                .await?;
            }
        }
    }

    // Day 55.9: the end of planning the next increment: every PO and member
    // votes their confidence, a few of them low.
    if let Some(next) = pis.last() {
        for (n, team) in team_list.iter().enumerate() {
            work.set_time(cal.at(55.9, 56.0, n, team_list.len()));
            for voter in std::iter::once(team.po).chain(team.members.iter().copied()) {
                work.act_as(person(voter));
                let value = rng.pick(&[5, 4, 4, 3, 4, 5, 2, 3, 1, 4]);
                planning::vote_confidence(work, *next, team.id, value).await?;
            }
        }
    }

    Ok(Demo {
        program_id: program.id,
        pm_token,
        po_tokens,
        member_token,
        stories: all.len(),
        dependencies: requested.len(),
        clarifications: asked.len(),
    })
}

/// The features targeting `increment`, in rank order.
async fn features_targeting(work: &Work, increment: IncrementId) -> AppResult<Vec<FeatureId>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(entity::feature::Entity::find()
        .filter(entity::feature::Column::TargetIncrementId.eq(increment.0))
        .order_by_asc(entity::feature::Column::RankKey)
        .all(work.conn())
        .await?
        .into_iter()
        .map(|f| FeatureId(f.id))
        .collect())
}

/// How many lifecycle rounds a story takes to reach `state`.
fn rank(state: StoryState) -> usize {
    match state {
        StoryState::Draft => 0,
        StoryState::Ready => 1,
        StoryState::InProgress => 2,
        StoryState::Done => 3,
        StoryState::Accepted => 4,
    }
}

fn team_of(teams: &[Team], id: TeamId) -> &Team {
    teams.iter().find(|t| t.id == id).unwrap_or(&teams[0])
}

fn dep_id(dep: &entity::dependency::Model) -> crate::ids::DependencyId {
    crate::ids::DependencyId(dep.id)
}

/// Names as a real train would use them, so the board reads like one.
const TEAMS: [&str; 20] = [
    "Payments",
    "Checkout",
    "Catalog",
    "Search",
    "Accounts",
    "Mobile app",
    "Fulfilment",
    "Pricing",
    "Identity",
    "Notifications",
    "Returns",
    "Loyalty",
    "Reviews",
    "Shipping",
    "Data platform",
    "Design system",
    "Fraud",
    "Inventory",
    "Support tools",
    "Partners",
];

const FEATURES: [&str; 24] = [
    "Checkout redesign",
    "One-click reorder",
    "Saved cards",
    "Guest checkout",
    "Wallet payments",
    "Address autocomplete",
    "Order tracking page",
    "Gift cards",
    "Subscription billing",
    "Multi-currency prices",
    "Self-service returns",
    "Fraud scoring",
    "Product recommendations",
    "Faster search",
    "Loyalty points",
    "Delivery slots",
    "Accessibility fixes",
    "Invoice downloads",
    "Price drop alerts",
    "Shared wishlists",
    "Single sign-on",
    "Push notifications",
    "Stock reservations",
    "Partner API",
];

const ACTIONS: [&str; 10] = [
    "Build", "Design", "Add", "Test", "Migrate", "Expose", "Monitor", "Cache", "Validate",
    "Localize",
];

const THINGS: [&str; 20] = [
    "card tokenization API",
    "payment retry job",
    "basket summary view",
    "address lookup",
    "order history endpoint",
    "price rules engine",
    "stock reservation",
    "email receipt",
    "refund flow",
    "3-D Secure challenge",
    "session timeout",
    "search ranking",
    "delivery slot picker",
    "loyalty balance widget",
    "fraud rules",
    "invoice PDF",
    "consent banner",
    "push token store",
    "partner webhooks",
    "audit log",
];

/// The name of the `i`th team (0-based), unique for any number of teams.
fn team_name(i: usize) -> String {
    match i / TEAMS.len() {
        0 => TEAMS[i].to_owned(),
        round => format!("{} {}", TEAMS[i % TEAMS.len()], round + 1),
    }
}

/// The title of the `n`th feature (0-based).
fn feature_title(n: usize) -> String {
    match n / FEATURES.len() {
        0 => FEATURES[n].to_owned(),
        round => format!("{}, phase {}", FEATURES[n % FEATURES.len()], round + 1),
    }
}

/// The title of a team's `s`th story, such as "Build card tokenization API"
/// (drawn without the demo's generator, so the rest of the demo stays as is).
fn story_title(team: usize, s: usize) -> String {
    let action = ACTIONS[(s * 7 + team) % ACTIONS.len()];
    let thing = THINGS[(s * 3 + team * 5 + s / THINGS.len()) % THINGS.len()];
    format!("{action} {thing}")
}
