//! The local stack's PostgreSQL holds Pagila and lets role `hydrate` in.

use hydrate_tests::StackEnv;
use tokio_postgres::NoTls;

#[tokio::test]
async fn pagila_address_has_603_rows() {
    let env = StackEnv::get();
    let (client, connection) = tokio_postgres::connect(env.pg_url(), NoTls).await.expect("connect to PG_URL");
    tokio::spawn(connection);

    let row = client.query_one("SELECT count(*) FROM public.address", &[]).await.expect("count addresses");
    assert_eq!(row.get::<_, i64>(0), 603);

    let settings = client
        .query_one("SELECT current_user::text, current_setting('wal_level')", &[])
        .await
        .expect("read settings");
    assert_eq!(settings.get::<_, String>(0), "hydrate");
    assert_eq!(settings.get::<_, String>(1), "logical");
}
