//! The harness's PostgreSQL: shared, fresh databases, crash and restart.

use sqlx::{Connection, PgConnection};
use testkit::postgres::{self, PgOptions, PgServer};

async fn answers(url: &str) -> bool {
    match PgConnection::connect(url).await {
        Ok(mut connection) => sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&mut connection)
            .await
            .is_ok_and(|one| one == 1),
        Err(_) => false,
    }
}

#[tokio::test]
async fn the_shared_server_gives_fresh_empty_databases() {
    let server = postgres::shared().await;
    let first = server.fresh_database().await;
    let second = server.fresh_database().await;
    assert_ne!(first, second);
    assert!(answers(&first).await);
    let mut connection = PgConnection::connect(&second).await.unwrap();
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert_eq!(tables, 0);
    assert!(std::ptr::eq(server, postgres::shared().await));
}

#[tokio::test]
async fn an_own_server_stops_at_once_and_starts_again() {
    let server = PgServer::start_own(PgOptions { fsync: true }).await;
    let url = server.fresh_database().await;
    let mut connection = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
        .execute(&mut connection)
        .await
        .unwrap();
    server.stop().await;
    assert!(!answers(&url).await);
    server.start().await;
    let mut connection = PgConnection::connect(&url).await.unwrap();
    let kept: i32 = sqlx::query_scalar("SELECT n FROM kept")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(kept, 7);
}
