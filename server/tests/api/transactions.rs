//! Transactions and the pool: a request cancelled while its transaction
//! begins (a browser navigating away) must not leave the pooled connection
//! inside that transaction, with that request's organization set, for the
//! next request to work in.
use app::backend::db;
use app::model::UserId;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_transaction_cancelled_while_it_begins_leaves_its_connection_outside_any() {
    let app = spawn_app().await;
    // One connection, so every round reuses the one the cancelled begin had.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&app.db.url_as(db::APP_ROLE))
        .await
        .unwrap();
    let mut left_inside = 0;
    // Cancelled at moments from before the BEGIN is sent to after it is
    // answered; sqlx's own `begin` leaves a few percent of these inside.
    for round in 0..400u64 {
        let wait = Duration::from_micros(round % 25 * 20);
        let _ = tokio::time::timeout(wait, db::begin_as_user(&pool, UserId::from_u128(1))).await;
        // A savepoint is refused outside a transaction block.
        if sqlx::query("savepoint probe").execute(&pool).await.is_ok() {
            left_inside += 1;
            sqlx::query("rollback").execute(&pool).await.unwrap();
        }
    }
    assert_eq!(
        left_inside, 0,
        "connections handed back inside a transaction"
    );
}
