//! The paper broker's memory: what it did with each client order id (the dedup record) and
//! which orders rest.

use std::collections::{HashMap, VecDeque};

use axia_domain::ports::Execution;
use axia_domain::{ClientOrderId, OrderSpec};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// A limit or stop order waiting for the market to reach its price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingOrder {
    /// The id [`Execution::Working`] returned.
    pub broker_order_id: String,
    /// The order as submitted.
    pub spec: OrderSpec,
    /// The quantity that will fill.
    pub quantity: Decimal,
    /// When it was accepted; only bars opening at or after this time can fill it.
    pub placed_at: DateTime<Utc>,
}

/// A resting order filled by a later bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperFill {
    /// The order's idempotency key.
    pub client_order_id: ClientOrderId,
    /// The id the order got when it started resting.
    pub broker_order_id: String,
    /// The fill ([`Execution::Filled`]).
    pub execution: Execution,
}

/// What the broker did with one client order id.
#[derive(Debug, Clone)]
enum Entry {
    Filled { spec: OrderSpec, execution: Execution },
    Working(WorkingOrder),
}

impl Entry {
    const fn spec(&self) -> &OrderSpec {
        match self {
            Self::Filled { spec, .. } => spec,
            Self::Working(w) => &w.spec,
        }
    }

    fn execution(&self) -> Execution {
        match self {
            Self::Filled { execution, .. } => execution.clone(),
            Self::Working(w) => Execution::Working { broker_order_id: w.broker_order_id.clone() },
        }
    }
}

/// What an earlier `execute` of the same client order id left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Previous {
    /// Nothing: the id is new (or its fill was forgotten, see [`Book::new`]).
    None,
    /// The same order was executed before: this is its outcome, to return again.
    Same(Execution),
    /// The id was used for a different order.
    Different,
}

/// Fills and resting orders by client order id.
#[derive(Debug)]
pub(crate) struct Book {
    entries: HashMap<ClientOrderId, Entry>,
    /// Filled ids, oldest first: the eviction order.
    filled: VecDeque<ClientOrderId>,
    remember_fills: usize,
}

impl Book {
    /// A book that remembers at most `remember_fills` fills (the oldest are forgotten first;
    /// resting orders are never forgotten).
    pub(crate) fn new(remember_fills: usize) -> Self {
        Self { entries: HashMap::new(), filled: VecDeque::new(), remember_fills: remember_fills.max(1) }
    }

    /// The outcome of an earlier `execute` of `spec`'s client order id.
    pub(crate) fn previous(&self, spec: &OrderSpec) -> Previous {
        match self.entries.get(&spec.client_order_id) {
            None => Previous::None,
            Some(e) if e.spec() == spec => Previous::Same(e.execution()),
            Some(_) => Previous::Different,
        }
    }

    /// Records a fill.
    pub(crate) fn record_fill(&mut self, spec: OrderSpec, execution: Execution) {
        let id = spec.client_order_id.clone();
        self.entries.insert(id.clone(), Entry::Filled { spec, execution });
        self.remember(id);
    }

    /// Records a resting order.
    pub(crate) fn record_working(&mut self, order: WorkingOrder) {
        self.entries.insert(order.spec.client_order_id.clone(), Entry::Working(order));
    }

    /// The resting orders, oldest first.
    pub(crate) fn working(&self) -> Vec<WorkingOrder> {
        let mut out: Vec<WorkingOrder> = self
            .entries
            .values()
            .filter_map(|e| match e {
                Entry::Working(w) => Some(w.clone()),
                Entry::Filled { .. } => None,
            })
            .collect();
        out.sort_by(|a, b| (a.placed_at, &a.spec.client_order_id).cmp(&(b.placed_at, &b.spec.client_order_id)));
        out
    }

    /// Turns the resting order `id` into a fill; returns the report, or `None` when `id` does not
    /// rest.
    pub(crate) fn fill_working(&mut self, id: &ClientOrderId, execution: Execution) -> Option<PaperFill> {
        let Some(Entry::Working(w)) = self.entries.get(id) else {
            return None;
        };
        let fill = PaperFill {
            client_order_id: id.clone(),
            broker_order_id: w.broker_order_id.clone(),
            execution: execution.clone(),
        };
        let spec = w.spec.clone();
        self.record_fill(spec, execution);
        Some(fill)
    }

    /// Removes the resting order `id`; returns it, or `None` when it does not rest.
    pub(crate) fn cancel(&mut self, id: &ClientOrderId) -> Option<WorkingOrder> {
        match self.entries.get(id) {
            Some(Entry::Working(_)) => match self.entries.remove(id) {
                Some(Entry::Working(w)) => Some(w),
                _ => None,
            },
            _ => None,
        }
    }

    fn remember(&mut self, id: ClientOrderId) {
        self.filled.push_back(id);
        while self.filled.len() > self.remember_fills {
            if let Some(old) = self.filled.pop_front() {
                self.entries.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{OrderType, Side, Symbol};
    use chrono::TimeZone;
    use rust_decimal::dec;

    use super::*;

    fn spec(id: &str) -> OrderSpec {
        let (id, symbol) = (ClientOrderId::new(id).unwrap(), Symbol::new("EURUSD").unwrap());
        OrderSpec::new(id, symbol, Side::Buy, OrderType::Market, dec!(1), None)
    }

    fn fill(id: &str) -> Execution {
        let at = Utc.with_ymd_and_hms(2025, 9, 2, 12, 0, 0).unwrap();
        Execution::Filled { fill_id: format!("f-{id}"), quantity: dec!(1), price: dec!(1.1), at }
    }

    #[test]
    fn remembers_the_same_order_and_refuses_a_different_one() {
        let mut book = Book::new(10);
        assert_eq!(book.previous(&spec("a")), Previous::None);
        book.record_fill(spec("a"), fill("a"));
        assert_eq!(book.previous(&spec("a")), Previous::Same(fill("a")));
        let other = OrderSpec { quantity: dec!(2), ..spec("a") };
        assert_eq!(book.previous(&other), Previous::Different);
    }

    #[test]
    fn forgets_the_oldest_fills_beyond_its_capacity() {
        let mut book = Book::new(2);
        for id in ["a", "b", "c"] {
            book.record_fill(spec(id), fill(id));
        }
        assert_eq!(book.previous(&spec("a")), Previous::None);
        assert_eq!(book.previous(&spec("c")), Previous::Same(fill("c")));
    }
}
