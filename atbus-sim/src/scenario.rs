//! Scenario definitions: nodes, links, workloads and faults, checked before anything runs.
//!
//! A scenario is plain data. Build one with [`Scenario::new`] and the `node`, `link`, `workload`
//! and `fault` methods, then hand it to [`Simulator::new`](crate::Simulator::new) together with
//! a factory that makes each node's endpoint. [`Scenario::validate`] (called by the simulator)
//! refuses a wrong definition with an error that names the field.

use std::time::Duration;

use crate::link::{LinkConfig, LinkKind};

/// A definition error: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ScenarioError {
    /// Path of the offending field, for example `links[1].b_to_a.loss.probability`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl ScenarioError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// A link between two nodes, configured per direction.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    /// Name of one end.
    pub a: String,
    /// Name of the other end.
    pub b: String,
    /// Datagram or byte stream.
    pub kind: LinkKind,
    /// The direction from `a` to `b`.
    pub a_to_b: LinkConfig,
    /// The direction from `b` to `a`.
    pub b_to_a: LinkConfig,
}

/// Application traffic.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// `count` messages of `size` bytes, one every `interval` from `start`, from `from` to `to`
    /// on `stream`. Latency is send to delivery.
    Messages {
        /// Sending node.
        from: String,
        /// Receiving node.
        to: String,
        /// Stream id.
        stream: u64,
        /// Payload size in bytes (at least 8: the first 8 carry the message id).
        size: usize,
        /// Time between sends.
        interval: Duration,
        /// Number of messages.
        count: u64,
        /// Time of the first send.
        start: Duration,
    },
    /// Like `Messages`, but the receiver sends every message straight back; latency is the
    /// round trip (KCP's test is this workload).
    Echo {
        /// Node that sends and measures.
        client: String,
        /// Node that echoes.
        server: String,
        /// Stream id, both ways.
        stream: u64,
        /// Payload size in bytes (at least 8).
        size: usize,
        /// Time between sends.
        interval: Duration,
        /// Number of messages.
        count: u64,
        /// Time of the first send.
        start: Duration,
    },
    /// `total_bytes` in messages of `message_size`, offered as fast as the sending endpoint
    /// accepts them. Goodput is payload delivered per second from first send to last delivery.
    Bulk {
        /// Sending node.
        from: String,
        /// Receiving node.
        to: String,
        /// Stream id.
        stream: u64,
        /// Total payload.
        total_bytes: u64,
        /// Size of each message (at least 8).
        message_size: usize,
        /// Time of the first send.
        start: Duration,
    },
}

/// Which direction of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the link's `a` to its `b`.
    AToB,
    /// From the link's `b` to its `a`.
    BToA,
}

/// A scripted fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Link `link` (index into the scenario's links) carries nothing from `from` until `until`;
    /// a byte-stream link is reset at `from` and comes back at `until`.
    Partition {
        /// Index of the link.
        link: usize,
        /// Start of the partition.
        from: Duration,
        /// End of the partition (the heal).
        until: Duration,
    },
    /// The `index`-th transmission (counting from 0) offered to one direction of a link is
    /// dropped.
    DropPacket {
        /// Index of the link.
        link: usize,
        /// The direction.
        direction: Direction,
        /// Which transmission.
        index: u64,
    },
    /// Node `node` stops at `at`: it is never driven again and its links go down.
    KillNode {
        /// Name of the node.
        node: String,
        /// When.
        at: Duration,
    },
    /// From `at` on, link `link` carries datagrams of at most `mtu` bytes both ways (`None`:
    /// unlimited) — a path whose MTU changes mid-transfer.
    SetMtu {
        /// Index of the link.
        link: usize,
        /// When.
        at: Duration,
        /// The new MTU.
        mtu: Option<u32>,
    },
}

/// A complete simulation scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name, for reports.
    pub name: String,
    /// Seed of every random draw of the run.
    pub seed: u64,
    /// Node names, in order; a node's [`NodeId`](crate::NodeId) is its index here.
    pub nodes: Vec<String>,
    /// Links; a link's [`LinkId`](crate::LinkId) is its index here.
    pub links: Vec<LinkSpec>,
    /// Traffic.
    pub workloads: Vec<Workload>,
    /// Faults.
    pub faults: Vec<Fault>,
    /// The run stops at this virtual time if the workloads have not completed.
    pub deadline: Duration,
}

impl Scenario {
    /// An empty scenario with a deadline of one virtual hour.
    pub fn new(name: impl Into<String>, seed: u64) -> Self {
        Self {
            name: name.into(),
            seed,
            nodes: Vec::new(),
            links: Vec::new(),
            workloads: Vec::new(),
            faults: Vec::new(),
            deadline: Duration::from_secs(3_600),
        }
    }

    /// Adds a node.
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.nodes.push(name.into());
        self
    }

    /// Adds a link between `a` and `b` with the same configuration both ways.
    pub fn link(self, a: &str, b: &str, kind: LinkKind, config: LinkConfig) -> Self {
        self.link_asymmetric(a, b, kind, config.clone(), config)
    }

    /// Adds a link configured per direction.
    pub fn link_asymmetric(
        mut self,
        a: &str,
        b: &str,
        kind: LinkKind,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
    ) -> Self {
        self.links.push(LinkSpec {
            a: a.to_owned(),
            b: b.to_owned(),
            kind,
            a_to_b,
            b_to_a,
        });
        self
    }

    /// Adds a workload.
    pub fn workload(mut self, workload: Workload) -> Self {
        self.workloads.push(workload);
        self
    }

    /// Adds a fault.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Sets the deadline.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The id of the node called `name`, or an error naming `field`.
    pub(crate) fn node_index(&self, name: &str, field: String) -> Result<usize, ScenarioError> {
        self.nodes
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| ScenarioError::new(field, format!("unknown node {name:?}")))
    }

    /// Checks the whole definition.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.nodes.is_empty() {
            return Err(ScenarioError::new(
                "nodes",
                "a scenario needs at least one node",
            ));
        }
        for (i, name) in self.nodes.iter().enumerate() {
            if name.is_empty() {
                return Err(ScenarioError::new(format!("nodes[{i}]"), "empty name"));
            }
            if self.nodes[..i].contains(name) {
                return Err(ScenarioError::new(
                    format!("nodes[{i}]"),
                    format!("duplicate name {name:?}"),
                ));
            }
        }
        for (i, link) in self.links.iter().enumerate() {
            let a = self.node_index(&link.a, format!("links[{i}].a"))?;
            let b = self.node_index(&link.b, format!("links[{i}].b"))?;
            if a == b {
                return Err(ScenarioError::new(
                    format!("links[{i}].b"),
                    "a link needs two different nodes",
                ));
            }
            link.a_to_b.validate(&format!("links[{i}].a_to_b"))?;
            link.b_to_a.validate(&format!("links[{i}].b_to_a"))?;
        }
        for (i, workload) in self.workloads.iter().enumerate() {
            self.validate_workload(i, workload)?;
        }
        for (i, fault) in self.faults.iter().enumerate() {
            let path = format!("faults[{i}]");
            match fault {
                Fault::Partition { link, from, until } => {
                    self.check_link(*link, &path)?;
                    if until <= from {
                        return Err(ScenarioError::new(
                            format!("{path}.until"),
                            "must be after `from`",
                        ));
                    }
                }
                Fault::DropPacket { link, .. } => self.check_link(*link, &path)?,
                Fault::SetMtu { link, mtu, .. } => {
                    self.check_link(*link, &path)?;
                    if *mtu == Some(0) {
                        return Err(ScenarioError::new(
                            format!("{path}.mtu"),
                            "must be positive",
                        ));
                    }
                }
                Fault::KillNode { node, .. } => {
                    self.node_index(node, format!("{path}.node"))?;
                }
            }
        }
        if self.deadline.is_zero() {
            return Err(ScenarioError::new("deadline", "must be positive"));
        }
        Ok(())
    }

    fn check_link(&self, link: usize, path: &str) -> Result<(), ScenarioError> {
        if link >= self.links.len() {
            return Err(ScenarioError::new(
                format!("{path}.link"),
                format!("no link {link}: the scenario has {}", self.links.len()),
            ));
        }
        Ok(())
    }

    fn validate_workload(&self, i: usize, workload: &Workload) -> Result<(), ScenarioError> {
        let path = format!("workloads[{i}]");
        let (from, to, size, interval, count) = match workload {
            Workload::Messages {
                from,
                to,
                size,
                interval,
                count,
                ..
            } => (("from", from), ("to", to), *size, Some(*interval), *count),
            Workload::Echo {
                client,
                server,
                size,
                interval,
                count,
                ..
            } => (
                ("client", client),
                ("server", server),
                *size,
                Some(*interval),
                *count,
            ),
            Workload::Bulk {
                from,
                to,
                total_bytes,
                message_size,
                ..
            } => (
                ("from", from),
                ("to", to),
                *message_size,
                None,
                *total_bytes,
            ),
        };
        let sender = self.node_index(from.1, format!("{path}.{}", from.0))?;
        let receiver = self.node_index(to.1, format!("{path}.{}", to.0))?;
        if sender == receiver {
            return Err(ScenarioError::new(
                format!("{path}.{}", to.0),
                "sender and receiver are the same node",
            ));
        }
        let size_field = if matches!(workload, Workload::Bulk { .. }) {
            "message_size"
        } else {
            "size"
        };
        if size < crate::workload::MIN_MESSAGE_SIZE {
            return Err(ScenarioError::new(
                format!("{path}.{size_field}"),
                format!("{size} bytes is too small: messages carry an 8-byte id"),
            ));
        }
        if interval.is_some_and(|i| i.is_zero()) {
            return Err(ScenarioError::new(
                format!("{path}.interval"),
                "must be positive",
            ));
        }
        if count == 0 {
            let field = if matches!(workload, Workload::Bulk { .. }) {
                "total_bytes"
            } else {
                "count"
            };
            return Err(ScenarioError::new(
                format!("{path}.{field}"),
                "must be positive",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LossModel;

    fn two_nodes() -> Scenario {
        Scenario::new("t", 1).node("a").node("b")
    }

    #[test]
    fn errors_name_the_field() {
        let unknown = two_nodes().link("a", "c", LinkKind::Datagram, LinkConfig::default());
        assert_eq!(unknown.validate().unwrap_err().field, "links[0].b");

        let lossy = two_nodes().link(
            "a",
            "b",
            LinkKind::Datagram,
            LinkConfig {
                loss: LossModel::Random { probability: 1.5 },
                ..Default::default()
            },
        );
        let error = lossy.validate().unwrap_err();
        assert_eq!(error.field, "links[0].a_to_b.loss.probability");
        assert!(error.to_string().contains("1.5"));

        let negative = two_nodes().link(
            "a",
            "b",
            LinkKind::Datagram,
            LinkConfig {
                duplicate: -0.1,
                ..Default::default()
            },
        );
        assert_eq!(
            negative.validate().unwrap_err().field,
            "links[0].a_to_b.duplicate"
        );

        let zero_rate = two_nodes().link(
            "a",
            "b",
            LinkKind::Datagram,
            LinkConfig {
                bandwidth_bps: Some(0),
                ..Default::default()
            },
        );
        assert_eq!(
            zero_rate.validate().unwrap_err().field,
            "links[0].a_to_b.bandwidth_bps"
        );

        let small = two_nodes().workload(Workload::Echo {
            client: "a".into(),
            server: "b".into(),
            stream: 0,
            size: 4,
            interval: Duration::from_millis(1),
            count: 1,
            start: Duration::ZERO,
        });
        assert_eq!(small.validate().unwrap_err().field, "workloads[0].size");

        let bad_fault = two_nodes().fault(Fault::Partition {
            link: 3,
            from: Duration::ZERO,
            until: Duration::from_secs(1),
        });
        assert_eq!(bad_fault.validate().unwrap_err().field, "faults[0].link");

        let kill = two_nodes().fault(Fault::KillNode {
            node: "z".into(),
            at: Duration::ZERO,
        });
        assert_eq!(kill.validate().unwrap_err().field, "faults[0].node");
        assert_eq!(
            Scenario::new("t", 0)
                .node("a")
                .node("a")
                .validate()
                .unwrap_err()
                .field,
            "nodes[1]"
        );
    }
}
