//! The simulated account's records, generated from their ids on demand so that a collection of a
//! million records costs eight bytes a record, not the JSON.

use std::fmt::Write;

/// Where a collection's page puts its total, as the docs show per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TotalStyle {
    /// `{"data": [...], "meta": {"total": N}}` (departments, agents, chats).
    Meta,
    /// `{"data": [...], "total": N}` (customers, messages, search).
    TopLevel,
}

/// What kind of record a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Department,
    Agent,
    /// `{"id": N, "name": "Record N"}`: a stand-in for any other list endpoint.
    Generic,
}

#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub(crate) kind: Kind,
    pub(crate) total_style: TotalStyle,
    pub(crate) ids: Vec<u64>,
}

impl Collection {
    pub(crate) fn new(kind: Kind, total_style: TotalStyle, count: usize) -> Self {
        Self {
            kind,
            total_style,
            ids: (1..=count as u64).collect(),
        }
    }

    /// The page `[offset, offset + limit)` with a reported total of `real total + skew`.
    pub(crate) fn render_page(&self, offset: u64, limit: u32, skew: i64) -> String {
        let start = (offset.min(self.ids.len() as u64)) as usize;
        let end = (start + limit as usize).min(self.ids.len());
        let mut out = String::with_capacity(64 + (end - start) * 160);
        out.push_str("{\"data\":[");
        for (i, &id) in self.ids[start..end].iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.render_record(id, &mut out)
                .expect("writing to a String cannot fail");
        }
        let total = (self.ids.len() as i64).saturating_add(skew).max(0);
        match self.total_style {
            TotalStyle::Meta => write!(out, "],\"meta\":{{\"total\":{total}}}}}"),
            TotalStyle::TopLevel => write!(out, "],\"total\":{total}}}"),
        }
        .expect("writing to a String cannot fail");
        out
    }

    fn render_record(&self, id: u64, out: &mut String) -> std::fmt::Result {
        let roles = ["agentChatOnly", "agent", "superviser", "admin"];
        match self.kind {
            Kind::Department => {
                write!(out, "{{\"id\":{id},\"name\":\"Department {id}\",\"agents\":[")?;
                for k in 0..id % 3 {
                    let agent = id * 10 + k;
                    if k > 0 {
                        out.push(',');
                    }
                    write!(
                        out,
                        "{{\"id\":{agent},\"name\":\"Agent {agent}\",\"email\":\"agent{agent}@example.com\",\"role\":\"{}\"}}",
                        roles[(agent % 4) as usize]
                    )?;
                }
                out.push_str("]}");
                Ok(())
            }
            Kind::Agent => write!(
                out,
                "{{\"id\":{id},\"name\":\"Agent {id}\",\"email\":\"agent{id}@example.com\",\"role\":\"{}\"}}",
                roles[(id % 4) as usize]
            ),
            Kind::Generic => write!(out, "{{\"id\":{id},\"name\":\"Record {id}\"}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_valid_json_in_the_documented_shapes() {
        let c = Collection::new(Kind::Department, TotalStyle::Meta, 5);
        let v: serde_json::Value = serde_json::from_str(&c.render_page(3, 100, 0)).unwrap();
        assert_eq!(v["meta"]["total"], 5);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["data"][1]["id"], 5);
        assert_eq!(v["data"][1]["agents"][1]["id"], 51);
        assert_eq!(v["data"][1]["agents"][1]["role"], "admin");

        let c = Collection::new(Kind::Agent, TotalStyle::TopLevel, 3);
        let v: serde_json::Value = serde_json::from_str(&c.render_page(10, 100, -1)).unwrap();
        assert_eq!(v["total"], 2);
        assert_eq!(v["data"].as_array().unwrap().len(), 0);
    }
}
