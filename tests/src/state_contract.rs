//! The contract suites of the trading-state ports ([`KillSwitchRepository`],
//! [`PositionRepository`], [`OrderRepository`], [`TradeRepository`]), run against every state
//! store (SQLite, and DynamoDB when it lands).
//!
//! Orders, positions and trades live under fresh `<uuid>`-prefixed ids, so those suites can share
//! a store. The kill switch is a singleton: [`kill_switch`] needs a store where it was never set.

use axia_domain::ports::{KillSwitchRepository, OrderRepository, PositionRepository, RepositoryError, TradeRepository};
use axia_domain::{
    ClientOrderId, KillSwitchAudit, KillSwitchState, Order, OrderSpec, OrderStatus, OrderType, Position,
    PositionStatus, Side, Symbol, Trade, TradingState,
};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal literal")
}

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap() + Duration::minutes(minute)
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

fn eurusd() -> Symbol {
    Symbol::new("EURUSD").unwrap()
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: &Result<T, RepositoryError>, rule: &str) {
    assert!(matches!(r, Err(RepositoryError::Conflict { .. })), "{rule}: expected Conflict, got {r:?}");
}

/// A market order in status `Received`, version 0.
///
/// # Panics
/// When `id` is not a valid client order id.
#[must_use]
pub fn market_order(id: &str, side: Side, quantity: Decimal, created: DateTime<Utc>) -> Order {
    let id = ClientOrderId::new(id).expect("valid id");
    let spec = OrderSpec {
        strategy_id: Some("contract".into()),
        ..OrderSpec::new(id, eurusd(), side, OrderType::Market, quantity, None)
    };
    Order::received(spec, created)
}

/// The fill of `quantity` at `price` for `order`, filed under `position_id`.
///
/// # Panics
/// When the quantity or price is not positive.
#[must_use]
pub fn fill_of(order: &Order, trade_id: &str, position_id: &str, quantity: Decimal, price: Decimal) -> Trade {
    let spec = order.spec();
    let at = order.updated_at();
    Trade::new(
        trade_id,
        spec.client_order_id.clone(),
        Some(position_id.into()),
        spec.symbol.clone(),
        spec.side,
        quantity,
        price,
        at,
    )
    .expect("valid trade")
}

/// Creates `order` and moves it to `Accepted`; returns the stored order (version 2).
async fn accepted(repo: &dyn OrderRepository, order: &Order) -> Order {
    let mut o = repo.create(order).await.expect("create");
    o.transition(OrderStatus::Accepted, o.created_at() + Duration::seconds(1)).expect("accept");
    repo.update(&o).await.expect("update to accepted")
}

/// The kill switch: create once, conditional changes, stale writes refused without effect,
/// the audit trail newest first.
///
/// # Panics
/// On the first broken rule. The kill switch must never have been set in `repo`.
pub async fn kill_switch(repo: &dyn KillSwitchRepository) {
    let never = repo.get().await;
    assert!(matches!(never, Err(RepositoryError::NotFound { .. })), "an unset kill switch is NotFound: {never:?}");
    assert!(repo.history(10).await.expect("history").is_empty(), "no audit before the first change");

    let init = KillSwitchState::initial("ops", t(0));
    let init_audit = KillSwitchAudit {
        previous: TradingState::Halted,
        state: TradingState::Active,
        reason: init.reason.clone(),
        changed_by: "ops".into(),
        changed_at: t(0),
        version: 1,
    };
    repo.set(&init, &init_audit, 0).await.expect("create with expected version 0");
    assert_eq!(repo.get().await.expect("get"), init, "get returns what was set");
    assert_conflict(&repo.set(&init, &init_audit, 0).await, "creating twice");

    let (halted, halt_audit) = init.change(TradingState::Halted, "drawdown", "alice", t(1)).unwrap();
    repo.set(&halted, &halt_audit, 1).await.expect("change from version 1");
    assert_eq!(repo.get().await.expect("get"), halted);

    // A writer that still holds version 1 loses, and changes nothing.
    let (stale, stale_audit) = init.change(TradingState::Active, "stale resume", "bob", t(2)).unwrap();
    assert_conflict(&repo.set(&stale, &stale_audit, 1).await, "a stale expected version");
    assert_eq!(repo.get().await.expect("get"), halted, "a refused write changes nothing");
    assert_eq!(repo.history(10).await.expect("history").len(), 2, "a refused write is not audited");
    let (ahead, ahead_audit) = halted.change(TradingState::Active, "ahead", "bob", t(2)).unwrap();
    let ahead = KillSwitchState { version: 8, ..ahead };
    assert!(repo.set(&ahead, &KillSwitchAudit { version: 8, ..ahead_audit }, 7).await.is_err(), "a future version");

    let (reducing, reduce_audit) = halted.change(TradingState::ReduceOnly, "calming", "alice", t(3)).unwrap();
    repo.set(&reducing, &reduce_audit, 2).await.expect("reduce-only");
    let (active, resume_audit) = reducing.change(TradingState::Active, "resolved", "carol", t(4)).unwrap();
    repo.set(&active, &resume_audit, 3).await.expect("resume");
    assert_eq!(repo.get().await.expect("get"), active);
    assert_eq!(active.version, 4);

    let history = repo.history(10).await.expect("history");
    assert_eq!(history, [resume_audit.clone(), reduce_audit.clone(), halt_audit, init_audit], "newest first");
    let chain: Vec<(TradingState, TradingState)> = history.iter().map(|a| (a.previous, a.state)).collect();
    assert_eq!(
        chain[..3],
        [
            (TradingState::ReduceOnly, TradingState::Active),
            (TradingState::Halted, TradingState::ReduceOnly),
            (TradingState::Active, TradingState::Halted),
        ]
    );
    assert_eq!(repo.history(2).await.expect("history"), [resume_audit, reduce_audit], "at most `limit`");
    assert!(repo.history(0).await.expect("history").is_empty());
}

/// Positions: create with version 0, each save bumps the version, stale or duplicate writes are
/// conflicts, `list_open` filters by symbol and leaves closed positions out.
///
/// # Panics
/// On the first broken rule.
pub async fn positions(repo: &dyn PositionRepository) {
    let p = unique();
    let id = |n: &str| format!("{p}-{n}");
    assert_eq!(repo.get(&id("A")).await.expect("get"), None, "an unknown id is None");

    let usdjpy = Symbol::new("USDJPY").unwrap();
    let strategy = id("S");
    let with_strategy = |mut x: Position, s: &str| {
        x.strategy_id = Some(s.to_string());
        x
    };
    let a = with_strategy(
        Position::open(id("A"), "TA", eurusd(), Side::Buy, d("1.5"), d("1.10000"), t(0)).unwrap(),
        &strategy,
    );
    let b = with_strategy(
        Position::open(id("B"), "TB", usdjpy.clone(), Side::Sell, d("2"), d("150.125"), t(1)).unwrap(),
        &strategy,
    );
    // Another strategy, opened the next day.
    let c = with_strategy(
        Position::open(id("C"), "TC", eurusd(), Side::Buy, d("1"), d("1.2"), t(24 * 60)).unwrap(),
        &id("S2"),
    );
    let a1 = repo.save(&a).await.expect("create A");
    assert_eq!(a1.version, 1, "a create returns version 1");
    assert_eq!(Position { version: 0, ..a1.clone() }, a, "nothing but the version changes");
    assert_eq!(repo.get(&id("A")).await.expect("get").as_ref(), Some(&a1), "decimals and times exact");
    assert_conflict(&repo.save(&a).await, "creating an existing id");
    let b1 = repo.save(&b).await.expect("create B");
    let c1 = repo.save(&c).await.expect("create C");

    let mut moved = a1.clone();
    moved.mark(d("1.10500"), t(5));
    let a2 = repo.save(&moved).await.expect("update from version 1");
    assert_eq!(a2.version, 2);
    assert_conflict(&repo.save(&moved).await, "a stale version");
    assert_conflict(&repo.save(&Position { version: 9, ..a2.clone() }).await, "a future version");
    let ghost =
        Position { version: 3, ..Position::open(id("G"), "TG", eurusd(), Side::Buy, d("1"), d("1"), t(0)).unwrap() };
    assert_conflict(&repo.save(&ghost).await, "updating an id that does not exist");
    assert_eq!(repo.get(&id("A")).await.expect("get").as_ref(), Some(&a2), "refused writes change nothing");
    assert_eq!(repo.get(&id("G")).await.expect("get"), None);

    let mine = |ps: Vec<Position>| {
        let mut ids: Vec<String> =
            ps.into_iter().filter(|x| x.position_id.starts_with(&p)).map(|x| x.position_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(mine(repo.list_open(None).await.expect("list all")), [id("A"), id("B"), id("C")]);
    assert_eq!(mine(repo.list_open(Some(eurusd())).await.expect("list EURUSD")), [id("A"), id("C")]);
    let listed = repo.list_open(Some(usdjpy)).await.expect("list USDJPY");
    assert_eq!(listed.iter().find(|x| x.position_id == id("B")), Some(&b1), "listed as stored");

    // AP4: positions of a strategy, by status; AP5: positions opened on a day.
    let by_strategy = |status| repo.list_by_strategy(&strategy, status);
    assert_eq!(by_strategy(None).await.expect("AP4"), [a2.clone(), b1.clone()], "oldest opened first, as stored");
    assert_eq!(by_strategy(Some(PositionStatus::Open)).await.expect("AP4 open"), [a2.clone(), b1.clone()]);
    assert_eq!(by_strategy(Some(PositionStatus::Closed)).await.expect("AP4 closed"), []);
    assert_eq!(repo.list_by_strategy(&id("S2"), None).await.expect("AP4"), [c1]);
    assert_eq!(repo.list_by_strategy(&id("nobody"), None).await.expect("AP4"), []);
    let day = t(0).date_naive();
    assert_eq!(mine(repo.opened_on(day).await.expect("AP5")), [id("A"), id("B")]);
    assert_eq!(mine(repo.opened_on(day.succ_opt().unwrap()).await.expect("AP5 next day")), [id("C")]);
    assert_eq!(mine(repo.opened_on(day.pred_opt().unwrap()).await.expect("AP5 day before")), Vec::<String>::new());

    let mut closing = a2.clone();
    closing.close(d("1.11000"), t(9)).unwrap();
    let closed = repo.save(&closing).await.expect("close");
    assert_eq!(closed.version, 3);
    assert_eq!(
        mine(repo.list_open(None).await.expect("list all")),
        [id("B"), id("C")],
        "closed positions are not open"
    );
    assert_eq!(by_strategy(Some(PositionStatus::Open)).await.expect("AP4 open"), std::slice::from_ref(&b1));
    match repo.get(&id("A")).await.expect("get") {
        None => {
            // A mirror of open positions forgets closed ones everywhere.
            assert_eq!(by_strategy(Some(PositionStatus::Closed)).await.expect("AP4 closed"), []);
            assert_eq!(mine(repo.opened_on(day).await.expect("AP5")), [id("B")]);
        }
        Some(got) => {
            assert_eq!(got, closed, "a store that keeps closed positions returns them as stored");
            assert_eq!(
                by_strategy(Some(PositionStatus::Closed)).await.expect("AP4 closed"),
                std::slice::from_ref(&closed)
            );
            assert_eq!(by_strategy(None).await.expect("AP4"), [closed.clone(), b1.clone()]);
            assert_eq!(mine(repo.opened_on(day).await.expect("AP5")), [id("A"), id("B")]);
        }
    }
    assert_eq!(closed.status, PositionStatus::Closed);
}

/// Orders: idempotent create, versioned updates guarded by the life cycle, lists newest first,
/// and executions that happen at most once.
///
/// # Panics
/// On the first broken rule.
pub async fn orders(repo: &dyn OrderRepository) {
    let p = unique();
    let id = |n: &str| format!("{p}-{n}");
    let cid = |n: &str| ClientOrderId::new(&id(n)).unwrap();
    assert_eq!(repo.get(&cid("A")).await.expect("get"), None, "an unknown id is None");

    let a = market_order(&id("A"), Side::Buy, d("1"), t(0));
    let a1 = repo.create(&a).await.expect("create");
    assert_eq!(a1.version(), 1, "a create returns version 1");
    assert_eq!(a1.clone().with_version(0), a);
    assert_eq!(repo.get(&cid("A")).await.expect("get").as_ref(), Some(&a1));
    assert_conflict(&repo.create(&a).await, "the client order id is the idempotency key");

    let mut acc = a1.clone();
    acc.transition(OrderStatus::Accepted, t(1)).unwrap();
    let a2 = repo.update(&acc).await.expect("update from version 1");
    assert_eq!((a2.version(), a2.status()), (2, OrderStatus::Accepted));
    assert_conflict(&repo.update(&acc).await, "a stale version");
    let missing = repo.update(&market_order(&id("Z"), Side::Buy, d("1"), t(0)).with_version(1)).await;
    assert!(matches!(missing, Err(RepositoryError::NotFound { .. })), "updating a missing order: {missing:?}");
    // A status the life cycle cannot reach from the stored one is refused.
    let back = Order::restore(a.spec().clone(), OrderStatus::Received, d("0"), None, None, None, 2, t(0), t(2));
    assert!(repo.update(&back).await.is_err(), "accepted -> received is not a transition");
    assert_eq!(repo.get(&cid("A")).await.expect("get").as_ref(), Some(&a2), "refused updates change nothing");

    let mut rejected = repo.create(&market_order(&id("B"), Side::Sell, d("2"), t(1))).await.expect("create B");
    rejected.reject("kill switch halted", t(2)).unwrap();
    let b2 = repo.update(&rejected).await.expect("reject");
    let reopened = Order::restore(
        b2.spec().clone(),
        OrderStatus::Accepted,
        d("0"),
        None,
        None,
        None,
        b2.version(),
        b2.created_at(),
        t(3),
    );
    assert!(repo.update(&reopened).await.is_err(), "a final order stays final");
    repo.create(&market_order(&id("C"), Side::Buy, d("1"), t(2))).await.expect("create C");

    let mine = |os: Vec<Order>| -> Vec<String> {
        os.into_iter().map(|o| o.client_order_id().to_string()).filter(|o| o.starts_with(&p)).collect()
    };
    assert_eq!(mine(repo.list(None, 1000).await.expect("list")), [id("C"), id("B"), id("A")], "newest first");
    assert_eq!(mine(repo.list(Some(OrderStatus::Rejected), 1000).await.expect("list")), [id("B")]);
    assert_eq!(mine(repo.list(Some(OrderStatus::Accepted), 1000).await.expect("list")), [id("A")]);
    assert_eq!(repo.list(None, 1).await.expect("list").len(), 1, "at most `limit`");
    assert!(repo.list(None, 0).await.expect("list").is_empty());

    // Execution: order, trade and position change together, once.
    let mut filled = a2.clone();
    filled.fill(d("1"), d("1.10010"), t(3)).unwrap();
    filled.set_position_id(id("P"));
    let trade = fill_of(&filled, &id("T1"), &id("P"), d("1"), d("1.10010"));
    let position = Position::open(id("P"), id("T1"), eurusd(), Side::Buy, d("1"), d("1.10010"), t(3)).unwrap();
    let (o3, p1) = repo.record_execution(&filled, &trade, &position).await.expect("execute");
    assert_eq!((o3.version(), o3.status()), (3, OrderStatus::Filled));
    assert_eq!(o3.clone().with_version(2), filled);
    assert_eq!(p1, Position { version: 1, ..position.clone() });
    assert_eq!(repo.get(&cid("A")).await.expect("get").as_ref(), Some(&o3));

    // A duplicate delivery executes nothing: same order version, or the stored filled order again.
    let again = repo.record_execution(&filled, &fill_of(&filled, &id("T2"), &id("P"), d("1"), d("1.1")), &p1).await;
    assert_conflict(&again, "executing the same order version twice");
    let again = repo.record_execution(&o3, &fill_of(&o3, &id("T3"), &id("P"), d("1"), d("1.1")), &p1).await;
    assert_conflict(&again, "executing a filled order again");
    assert_eq!(repo.get(&cid("A")).await.expect("get").as_ref(), Some(&o3), "refused executions change nothing");

    // A stale position version fails the whole execution.
    let mut c = repo.get(&cid("C")).await.expect("get").expect("C exists");
    c.transition(OrderStatus::Accepted, t(4)).unwrap();
    let c2 = repo.update(&c).await.expect("accept C");
    let mut c_filled = c2.clone();
    c_filled.fill(d("1"), d("1.2"), t(5)).unwrap();
    let stale =
        repo.record_execution(&c_filled, &fill_of(&c_filled, &id("T4"), &id("P"), d("1"), d("1.2")), &position).await;
    assert_conflict(&stale, "a stale position version");
    assert_eq!(repo.get(&cid("C")).await.expect("get").as_ref(), Some(&c2), "the order is not written either");
}

/// Trades: every execution stores its fill, listed per order and per position, oldest first.
///
/// # Panics
/// On the first broken rule.
pub async fn trades(orders: &dyn OrderRepository, trades: &dyn TradeRepository) {
    let p = unique();
    let id = |n: &str| format!("{p}-{n}");
    let cid = ClientOrderId::new(&id("O")).unwrap();
    assert!(trades.for_order(&cid).await.expect("for_order").is_empty(), "no trades for an unknown order");
    assert!(trades.for_position(&id("P")).await.expect("for_position").is_empty());

    let order = accepted(orders, &market_order(&id("O"), Side::Buy, d("3"), t(0))).await;
    let mut first = order.clone();
    first.fill(d("1"), d("1.1"), t(1)).unwrap();
    let t1 = fill_of(&first, &id("T1"), &id("P"), d("1"), d("1.1"));
    let opened = Position::open(id("P"), id("T1"), eurusd(), Side::Buy, d("1"), d("1.1"), t(1)).unwrap();
    let (o, pos) = orders.record_execution(&first, &t1, &opened).await.expect("first fill");
    assert_eq!(o.status(), OrderStatus::PartiallyFilled);

    let mut second = o.clone();
    second.fill(d("2"), d("1.4"), t(2)).unwrap();
    let t2 = fill_of(&second, &id("T2"), &id("P"), d("2"), d("1.4"));
    let mut grown = pos.clone();
    grown.increase(d("2"), d("1.4"), t(2)).unwrap();
    let (o, pos) = orders.record_execution(&second, &t2, &grown).await.expect("second fill");
    assert_eq!(
        (o.status(), o.filled_quantity(), o.average_fill_price()),
        (OrderStatus::Filled, d("3"), Some(d("1.3")))
    );
    assert_eq!((pos.version, pos.size), (2, d("3")));

    assert_eq!(trades.for_order(&cid).await.expect("for_order"), [t1.clone(), t2.clone()], "oldest first");
    assert_eq!(trades.for_position(&id("P")).await.expect("for_position"), [t1.clone(), t2.clone()]);

    // A refused execution stores no trade.
    let dup = orders.record_execution(&second, &fill_of(&second, &id("T3"), &id("P"), d("1"), d("1.4")), &grown).await;
    assert_conflict(&dup, "a duplicate execution");
    assert_eq!(trades.for_order(&cid).await.expect("for_order"), [t1, t2], "no trade from a refused execution");
}

/// Reads, adds 1 to the size and saves until the save wins; returns the number of conflicts.
async fn increment(repo: &dyn PositionRepository, id: &str) -> usize {
    let mut conflicts = 0;
    loop {
        let mut p = repo.get(id).await.expect("get").expect("position exists");
        p.size += Decimal::ONE;
        match repo.save(&p).await {
            Ok(_) => return conflicts,
            Err(RepositoryError::Conflict { .. }) => conflicts += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
        tokio::task::yield_now().await;
    }
}

/// Fifty tasks, alternating between the two handles (clones of one store, or two connections
/// to it), each add 1 to one position's size by read-modify-save, retrying on conflict: no
/// update is lost and every successful save produced one version. Returns the conflicts seen.
///
/// # Panics
/// When an update is lost or a save fails with anything but a conflict.
pub async fn fifty_concurrent_saves<S>(handles: [Arc<S>; 2]) -> usize
where
    S: PositionRepository + 'static,
{
    let id = format!("{}-P", unique());
    let p = Position::open(id.clone(), "T1", eurusd(), Side::Buy, d("1"), d("1.1"), t(0)).unwrap();
    handles[0].save(&p).await.expect("create");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (repo, id) = (Arc::clone(&handles[i % 2]), id.clone());
            tokio::spawn(async move { increment(repo.as_ref(), &id).await })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.expect("task");
    }
    let last = handles[1].get(&id).await.expect("get").expect("position exists");
    assert_eq!(last.size, d("51"), "every increment survives ({conflicts} conflicts retried)");
    assert_eq!(last.version, 51, "one version per successful save");
    conflicts
}

/// Two workers execute the same accepted order at once (each with its own trade id): exactly
/// one wins, the other gets a conflict, and one trade, one filled order and one position
/// version remain.
///
/// # Panics
/// When both or neither execution wins, or the stored state shows two executions.
pub async fn racing_executions<S>(handles: [Arc<S>; 2])
where
    S: OrderRepository + TradeRepository + PositionRepository + 'static,
{
    let p = unique();
    let (order_id, position_id) = (format!("{p}-race"), format!("{p}-P"));
    let order = market_order(&order_id, Side::Buy, d("1"), t(0));
    let accepted = accepted(handles[0].as_ref(), &order).await;
    let mut filled = accepted.clone();
    filled.fill(d("1"), d("1.1"), t(1)).unwrap();
    let position = Position::open(position_id.clone(), "T-a", eurusd(), Side::Buy, d("1"), d("1.1"), t(1)).unwrap();

    let tasks: Vec<_> = ["T-a", "T-b"]
        .into_iter()
        .zip(handles.iter().cloned())
        .map(|(trade_id, repo)| {
            let (filled, position, position_id) = (filled.clone(), position.clone(), position_id.clone());
            tokio::spawn(async move {
                let trade = fill_of(&filled, &format!("{position_id}-{trade_id}"), &position_id, d("1"), d("1.1"));
                repo.record_execution(&filled, &trade, &position).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    let wins = outcomes.iter().filter(|r| r.is_ok()).count();
    let conflicts = outcomes.iter().filter(|r| matches!(r, Err(RepositoryError::Conflict { .. }))).count();
    assert_eq!((wins, conflicts), (1, 1), "exactly one execution wins: {outcomes:?}");

    let id = ClientOrderId::new(&order_id).unwrap();
    let stored = OrderRepository::get(handles[1].as_ref(), &id).await.expect("get").expect("order exists");
    assert_eq!((stored.status(), stored.version()), (OrderStatus::Filled, 3));
    assert_eq!(handles[1].for_order(&id).await.expect("for_order").len(), 1, "one trade");
    assert_eq!(handles[1].for_position(&position_id).await.expect("for_position").len(), 1, "one trade");
    let stored = PositionRepository::get(handles[1].as_ref(), &position_id).await.expect("get").expect("position");
    assert_eq!(stored.version, 1, "one position write");
}

/// The state the order processor obeys for `repo`: the stored one, or Halted (fail-closed).
pub async fn effective_state<R: KillSwitchRepository + Clone + 'static>(repo: &R) -> KillSwitchState {
    let clock = Arc::new(axia_domain::SystemClock);
    axia_application::KillSwitchService::new(Arc::new(repo.clone()), clock).status().await.state
}
