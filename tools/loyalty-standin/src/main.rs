//! `loyalty-standin [--addr 127.0.0.1:4580] [--store-code default] [--api-key dev-loyalty-key]`:
//! the stand-in loyalty platform `make dev` starts (see the library's documentation).

use std::net::SocketAddr;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut store, mut key) = (
        "127.0.0.1:4580".to_owned(),
        "default".to_owned(),
        "dev-loyalty-key".to_owned(),
    );
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--addr" => addr = value,
            "--store-code" => store = value,
            "--api-key" => key = value,
            other => {
                eprintln!("loyalty-standin: unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    let addr: SocketAddr = addr.parse().unwrap_or_else(|e| {
        eprintln!("loyalty-standin: --addr: {e}");
        std::process::exit(2);
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| {
            eprintln!("loyalty-standin: cannot listen on {addr}: {e}");
            std::process::exit(1);
        });
    println!("loyalty-standin: Open Loyalty member API (store {store}) on http://{addr}");
    loyalty_standin::StandIn::new(&store, &key)
        .serve(listener)
        .await;
}
