//! Which names hold live sessions, and what a new registration under a name means.

use std::collections::BTreeMap;

use super::{InstanceId, SessionId};

/// What to do when a *different running instance* claims a name that holds a live session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DuplicatePolicy {
    /// Refuse the newcomer with `DUPLICATE_NAME` (the default): a name belongs to one process at
    /// a time, and a misconfigured second process must not take over the first one's traffic.
    /// The cost: a node that restarts is refused until the responder notices the old session
    /// is dead (its connections' idle timeout, 24 s by default).
    #[default]
    Refuse,
    /// Assume the old instance restarted: end its session (its connections close with
    /// `PEER_RESET`) and give the newcomer a new one. A restarted node is back at once; a
    /// second process with the same name takes the name over.
    ReplaceOlder,
}

/// The live session under a name: who holds it and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LiveSession {
    /// The instance of the node that holds it.
    pub instance: InstanceId,
    /// The session.
    pub session_id: SessionId,
}

/// A registration's claim, as the session table judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The claimed node name (already checked by the node-name rule).
    pub name: &'a str,
    /// The claimer's instance.
    pub instance: InstanceId,
    /// The session the claimer asks to join; `None` for a new one.
    pub session: Option<SessionId>,
}

/// Why a live session is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplaceCause {
    /// Another instance claims the name under [`DuplicatePolicy::ReplaceOlder`]: the old one is
    /// taken to have restarted.
    Restarted,
    /// The same instance asks for a new session, or for one that is not the live one: it no
    /// longer has the live session (it ended it, or lost track), so that session is dead.
    Abandoned,
}

/// The session table's verdict on a [`Claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// No live session under the name: a new one.
    New,
    /// The same instance joins the live session it named: another connection of it.
    Join(SessionId),
    /// The live session ends and a new one replaces it.
    Replace {
        /// The session that ends.
        old: LiveSession,
        /// Why.
        cause: ReplaceCause,
    },
    /// Another instance holds the name and the policy is [`DuplicatePolicy::Refuse`].
    Refuse {
        /// The session that holds the name.
        existing: LiveSession,
    },
}

/// An admitted registration: the session the connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Admission {
    /// The session.
    pub session_id: SessionId,
    /// Whether it is the live session the claim asked to join (otherwise a new one).
    pub joined: bool,
    /// The session this one replaced; its owner closes its connections with `PEER_RESET`.
    pub replaced: Option<LiveSession>,
}

/// A claim refused because another running instance holds the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the name is held by instance {} (session {})", existing.instance, existing.session_id)]
pub struct NameTaken {
    /// The session that holds the name.
    pub existing: LiveSession,
}

/// Live sessions by peer name, as a responder knows them: the registry its registrations are
/// judged against.
///
/// Pure data: [`decide`](Self::decide) judges a claim without changing anything, and
/// [`admit`](Self::admit) judges it and applies the verdict. The rules, for a claim of `name`
/// by `instance` asking to join `session` (or not):
///
/// | live session under `name` | claim | verdict |
/// |---|---|---|
/// | none | any | [`New`](Decision::New) (a requested session that no longer exists is not recreated) |
/// | same instance, id = `session` | join it | [`Join`](Decision::Join) |
/// | same instance, id ≠ `session` or no `session` | new | [`Replace`](Decision::Replace), [`Abandoned`](ReplaceCause::Abandoned) |
/// | other instance | any | [`Refuse`](Decision::Refuse) under [`DuplicatePolicy::Refuse`]; [`Replace`](Decision::Replace), [`Restarted`](ReplaceCause::Restarted) under [`DuplicatePolicy::ReplaceOlder`] |
///
/// A node therefore opens the second connection of a session only once the first one's
/// handshake gave it the session id: two registrations of one instance without an id replace
/// each other.
///
/// Session ids are unique for the table's life and unpredictable across restarts: the `n`-th is
/// a bijective mix (SplitMix64's finaliser) of the local instance and `n`, so a restarted
/// responder does not hand out the ids of its previous run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTable {
    policy: DuplicatePolicy,
    sessions: BTreeMap<String, LiveSession>,
    id_seed: u64,
    issued: u64,
}

/// Odd, so `seed + n × GOLDEN_GAMMA` differs for every `n` below 2^64.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finaliser: a bijection on `u64`.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SessionTable {
    /// An empty table of a responder running as `local_instance`.
    pub fn new(local_instance: InstanceId, policy: DuplicatePolicy) -> Self {
        SessionTable {
            policy,
            sessions: BTreeMap::new(),
            id_seed: local_instance.get(),
            issued: 0,
        }
    }

    /// The duplicate-name policy.
    pub fn policy(&self) -> DuplicatePolicy {
        self.policy
    }

    /// The verdict on `claim`, without applying it.
    pub fn decide(&self, claim: &Claim<'_>) -> Decision {
        let Some(&live) = self.sessions.get(claim.name) else {
            return Decision::New;
        };
        if live.instance == claim.instance {
            return if claim.session == Some(live.session_id) {
                Decision::Join(live.session_id)
            } else {
                Decision::Replace {
                    old: live,
                    cause: ReplaceCause::Abandoned,
                }
            };
        }
        match self.policy {
            DuplicatePolicy::Refuse => Decision::Refuse { existing: live },
            DuplicatePolicy::ReplaceOlder => Decision::Replace {
                old: live,
                cause: ReplaceCause::Restarted,
            },
        }
    }

    /// Judges `claim` and applies the verdict: a new or replacing session is entered under the
    /// name with a fresh id.
    pub fn admit(&mut self, claim: &Claim<'_>) -> Result<Admission, NameTaken> {
        let replaced = match self.decide(claim) {
            Decision::Join(session_id) => {
                return Ok(Admission {
                    session_id,
                    joined: true,
                    replaced: None,
                });
            }
            Decision::Refuse { existing } => return Err(NameTaken { existing }),
            Decision::New => None,
            Decision::Replace { old, .. } => Some(old),
        };
        let session_id = self.next_session_id();
        let live = LiveSession {
            instance: claim.instance,
            session_id,
        };
        self.sessions.insert(claim.name.to_owned(), live);
        Ok(Admission {
            session_id,
            joined: false,
            replaced,
        })
    }

    /// Enters a session that `name` admitted us to (our own registration established it): the
    /// name is taken as if we had admitted it, so that another instance claiming it is judged
    /// by the policy and the same instance may join it.
    pub fn enter(&mut self, name: &str, live: LiveSession) {
        self.sessions.insert(name.to_owned(), live);
    }

    /// Ends the session `session_id` of `name`, if it is still the live one (a late removal of
    /// a replaced session leaves its successor alone).
    pub fn remove(&mut self, name: &str, session_id: SessionId) -> Option<LiveSession> {
        if self.sessions.get(name)?.session_id != session_id {
            return None;
        }
        self.sessions.remove(name)
    }

    /// The live session under `name`.
    pub fn get(&self, name: &str) -> Option<&LiveSession> {
        self.sessions.get(name)
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Live sessions by name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &LiveSession)> {
        self.sessions
            .iter()
            .map(|(name, session)| (name.as_str(), session))
    }

    fn next_session_id(&mut self) -> SessionId {
        loop {
            self.issued = self.issued.wrapping_add(1);
            let bits = mix(self
                .id_seed
                .wrapping_add(self.issued.wrapping_mul(GOLDEN_GAMMA)));
            // One value in 2^64 mixes to 0; the next one does not.
            if let Some(id) = SessionId::new(bits) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn instance(value: u64) -> InstanceId {
        InstanceId::new(value).unwrap()
    }

    fn claim(name: &str, value: u64, session: Option<SessionId>) -> Claim<'_> {
        Claim {
            name,
            instance: instance(value),
            session,
        }
    }

    fn table(policy: DuplicatePolicy) -> SessionTable {
        SessionTable::new(instance(0xabc), policy)
    }

    #[test]
    fn a_new_name_gets_a_new_session() {
        let mut table = table(DuplicatePolicy::Refuse);
        assert!(table.is_empty());
        assert_eq!(table.decide(&claim("a", 1, None)), Decision::New);
        let admission = table.admit(&claim("a", 1, None)).unwrap();
        assert!(!admission.joined && admission.replaced.is_none());
        assert_eq!(
            table.get("a"),
            Some(&LiveSession {
                instance: instance(1),
                session_id: admission.session_id
            })
        );
        // A session the claimer remembers but the table does not know is not recreated.
        let stale = SessionId::new(12345).unwrap();
        let admission = table.admit(&claim("b", 2, Some(stale))).unwrap();
        assert_ne!(admission.session_id, stale);
        assert!(!admission.joined);
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn the_same_instance_joins_its_live_session() {
        let mut table = table(DuplicatePolicy::Refuse);
        let first = table.admit(&claim("a", 1, None)).unwrap();
        let id = first.session_id;
        assert_eq!(table.decide(&claim("a", 1, Some(id))), Decision::Join(id));
        let second = table.admit(&claim("a", 1, Some(id))).unwrap();
        assert_eq!(
            second,
            Admission {
                session_id: id,
                joined: true,
                replaced: None
            }
        );
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn the_same_instance_without_the_live_id_abandons_it() {
        let mut table = table(DuplicatePolicy::Refuse);
        let old = table.admit(&claim("a", 1, None)).unwrap().session_id;
        let live = *table.get("a").unwrap();
        for session in [None, SessionId::new(old.get() ^ 1)] {
            assert_eq!(
                table.decide(&claim("a", 1, session)),
                Decision::Replace {
                    old: *table.get("a").unwrap(),
                    cause: ReplaceCause::Abandoned
                }
            );
        }
        let admission = table.admit(&claim("a", 1, None)).unwrap();
        assert_eq!(admission.replaced, Some(live));
        assert_ne!(admission.session_id, old);
        assert!(!admission.joined);
    }

    #[test]
    fn another_instance_is_refused_by_default() {
        let mut table = table(DuplicatePolicy::default());
        assert_eq!(table.policy(), DuplicatePolicy::Refuse);
        table.admit(&claim("a", 1, None)).unwrap();
        let live = *table.get("a").unwrap();
        // Even naming the live session does not help another instance.
        for session in [None, Some(live.session_id)] {
            assert_eq!(
                table.decide(&claim("a", 2, session)),
                Decision::Refuse { existing: live }
            );
            assert_eq!(
                table.admit(&claim("a", 2, session)),
                Err(NameTaken { existing: live })
            );
        }
        assert_eq!(table.get("a"), Some(&live));
    }

    #[test]
    fn another_instance_replaces_the_older_under_replace_older() {
        let mut table = table(DuplicatePolicy::ReplaceOlder);
        table.admit(&claim("a", 1, None)).unwrap();
        let old = *table.get("a").unwrap();
        assert_eq!(
            table.decide(&claim("a", 2, None)),
            Decision::Replace {
                old,
                cause: ReplaceCause::Restarted
            }
        );
        let admission = table.admit(&claim("a", 2, None)).unwrap();
        assert_eq!(admission.replaced, Some(old));
        assert_eq!(table.get("a").unwrap().instance, instance(2));
        // The old instance, coming back, now replaces the new one in turn.
        let back = table.admit(&claim("a", 1, Some(old.session_id))).unwrap();
        assert!(!back.joined);
        assert_eq!(back.replaced.unwrap().instance, instance(2));
    }

    #[test]
    fn removal_only_ends_the_named_live_session() {
        let mut table = table(DuplicatePolicy::ReplaceOlder);
        let old = table.admit(&claim("a", 1, None)).unwrap().session_id;
        let new = table.admit(&claim("a", 2, None)).unwrap().session_id;
        assert_eq!(table.remove("a", old), None);
        assert_eq!(table.remove("b", new), None);
        assert_eq!(table.remove("a", new).map(|s| s.session_id), Some(new));
        assert!(table.is_empty());
    }

    #[test]
    fn session_ids_are_distinct_and_depend_on_the_local_instance() {
        let mut a = SessionTable::new(instance(1), DuplicatePolicy::Refuse);
        let mut b = SessionTable::new(instance(2), DuplicatePolicy::Refuse);
        let mut seen = BTreeSet::new();
        for n in 0..1_000 {
            let name = format!("n{n}");
            assert!(seen.insert(a.admit(&claim(&name, 1, None)).unwrap().session_id));
            assert!(seen.insert(b.admit(&claim(&name, 1, None)).unwrap().session_id));
        }
        // Deterministic: the same table state gives the same ids.
        let mut again = SessionTable::new(instance(1), DuplicatePolicy::Refuse);
        let id = again.admit(&claim("n0", 1, None)).unwrap().session_id;
        assert_eq!(a.get("n0").unwrap().session_id, id);
        assert_eq!(a.iter().count(), 1_000);
    }
}
