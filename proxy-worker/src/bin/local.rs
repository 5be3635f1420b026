//! `proxy-worker/run-local`'s launcher: takes `multishot-proxy`'s very command line and
//! environment (the same [`Flags`], checks and exit code 2), and serves the Worker built
//! in `proxy-worker/build/` in workerd (npm, offline) on `--listen`, with the Durable
//! Objects' storage on local disk — so a test or a person swaps the command and nothing
//! else. Stops workerd on SIGTERM or Ctrl-C.
//!
//! The Worker's variables are passed as workerd bindings read from this process's
//! environment (`fromEnvironment`): no key is written to disk. The Durable Objects'
//! storage is a fresh directory removed at exit, as the binary's memory is, unless
//! `MULTISHOT_WORKER_STATE` names a directory to keep it in (a restart then keeps the
//! day's spend).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, FromArgMatches};
use multishot_proxy::config::{self, Flags, Settings};

/// The variable naming a directory that keeps the Durable Objects' storage.
const STATE_VAR: &str = "MULTISHOT_WORKER_STATE";
/// Passed on to the Worker when set here (its test hooks).
const PASSED_ON: &[&str] = &["MULTISHOT_WORKER_TEST_HOOKS"];
/// The compatibility date the Worker is written for (also in wrangler.toml).
const COMPATIBILITY_DATE: &str = "2025-09-01";
/// How long workerd may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The descriptor workerd is given the listening socket as.
const SOCKET_FD: i32 = 3;

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("run-local: {message}");
    ExitCode::from(code)
}

/// A capnp text literal.
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

/// workerd's configuration: the Worker's modules (embedded from `build`), a binding
/// per variable read from the environment, the counters' namespace on local disk, and
/// an outbound network that may reach a local fake.
fn workerd_config(names: &[String], listen: SocketAddr, state: &Path) -> String {
    let bindings: String = names
        .iter()
        .map(|name| format!("    (name = {0}, fromEnvironment = {0}),\n", quoted(name)))
        .collect();
    format!(
        r#"using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .proxy),
    (name = "net", network = (allow = ["public", "private", "local"])),
    (name = "counters-disk", disk = (path = {state}, writable = true)),
  ],
  sockets = [(name = "http", address = {listen}, http = (), service = "main")],
);

const proxy :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),
  ],
  compatibilityDate = {date},
  bindings = [
{bindings}    (name = "COUNTERS", durableObjectNamespace = "Counters"),
  ],
  durableObjectNamespaces = [(className = "Counters", uniqueKey = "multishot-counters", enableSql = true)],
  durableObjectStorage = (localDisk = "counters-disk"),
  globalOutbound = "net",
);
"#,
        state = quoted(&state.display().to_string()),
        listen = quoted(&listen.to_string()),
        date = quoted(COMPATIBILITY_DATE),
    )
}

/// The socket workerd serves on, bound here and handed to it (`--socket-fd`): bound
/// once, so two launchers started at once can never be given the same port.
fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let matches = Flags::command()
        .name("run-local")
        .about(
            "multishot-proxy's Cloudflare Worker in workerd, with multishot-proxy's command line.",
        )
        .get_matches();
    let flags = match Flags::from_arg_matches(&matches) {
        Ok(flags) => flags,
        Err(e) => e.exit(),
    };
    let settings = match Settings::from_flags(
        flags,
        std::env::var("WAVESPEED_API_KEY").ok(),
        std::env::var("MULTISHOT_TOKEN_SECRET").ok(),
    ) {
        Ok(settings) => settings,
        Err(e) => return fail(2, e),
    };
    let mut vars = match config::vars_of(&matches) {
        Ok(vars) => vars,
        Err(e) => return fail(2, e),
    };
    for name in config::SECRET_VARS.iter().chain(PASSED_ON) {
        if !vars.iter().any(|(n, _)| n == name) {
            if let Ok(value) = std::env::var(name) {
                vars.push(((*name).to_owned(), value));
            }
        }
    }
    let build = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("build");
    if !build.join("index_bg.wasm").is_file() {
        return fail(
            1,
            "the Worker is not built: run proxy-worker/run-local (it builds it)",
        );
    }
    let (socket, listen) = match bind(settings.listen).and_then(|l| Ok((l.local_addr()?, l))) {
        Ok((listen, socket)) => (socket, listen),
        Err(e) => return fail(1, format!("cannot listen on {}: {e}", settings.listen)),
    };
    let (state, keep_state) = match std::env::var(STATE_VAR) {
        Ok(dir) if !dir.is_empty() => (PathBuf::from(dir), true),
        _ => (
            std::env::temp_dir().join(format!("multishot-worker-{}", std::process::id())),
            false,
        ),
    };
    if let Err(e) = std::fs::create_dir_all(&state) {
        return fail(1, format!("{}: {e}", state.display()));
    }
    let state = std::fs::canonicalize(&state).unwrap_or(state);
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let config_path = build.join(format!("workerd-{}.capnp", std::process::id()));
    if let Err(e) = std::fs::write(&config_path, workerd_config(&names, listen, &state)) {
        return fail(1, format!("{}: {e}", config_path.display()));
    }
    let code = serve(&config_path, &vars, socket, listen).await;
    let _ = std::fs::remove_file(&config_path);
    if !keep_state {
        let _ = std::fs::remove_dir_all(&state);
    }
    code
}

/// `GET /healthz`: whether an HTTP answer came (whatever it says: a Worker whose
/// variables are wrong still starts, and says why on each request).
fn warm_up(listen: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&listen, Duration::from_secs(5)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut answer);
    }
    answer.starts_with(b"HTTP/1.1 ")
}

/// Runs workerd until it ends or a signal asks this process to stop.
async fn serve(
    config_path: &Path,
    vars: &[(String, String)],
    socket: TcpListener,
    listen: SocketAddr,
) -> ExitCode {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let workerd = std::env::var("WORKERD_BIN").unwrap_or_else(|_| "workerd".into());
    let mut command = tokio::process::Command::new(&workerd);
    command
        .arg("serve")
        .arg(config_path)
        .arg(format!("--socket-fd=http={SOCKET_FD}"))
        .envs(vars.iter().map(|(n, v)| (n, v)))
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe, and nothing else runs between fork and exec.
    // workerd gets SIGTERM when this process dies, however it dies (a test's SIGKILL
    // included): no workerd is left holding a port.
    // The bound socket becomes workerd's descriptor SOCKET_FD (dup2 clears close-on-exec).
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            // dup2 onto itself would keep close-on-exec: then it is cleared by hand.
            let handed = if fd == SOCKET_FD {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, SOCKET_FD)
            };
            if handed < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return fail(
                1,
                format!("cannot start {workerd} (npm's workerd, `npm ci`): {e}"),
            )
        }
    };
    // One request first, so the Worker reads its settings and asks the price before it
    // is announced, as the binary does before it listens. The socket accepts before
    // workerd serves it: the answer is what says workerd is up.
    let started = Instant::now();
    while !warm_up(listen) {
        if let Ok(Some(status)) = child.try_wait() {
            return fail(1, format!("workerd stopped: {status}"));
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill().await;
            return fail(1, "workerd did not answer in time");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(socket);
    // The first line on standard error, as the binary's, for scripts and tests.
    eprintln!("listening on http://{listen}");
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(e) => return fail(1, format!("cannot watch for SIGTERM: {e}")),
        };
    tokio::select! {
        status = child.wait() => {
            return match status {
                Ok(status) if status.success() => ExitCode::SUCCESS,
                Ok(status) => fail(1, format!("workerd stopped: {status}")),
                Err(e) => fail(1, format!("workerd: {e}")),
            };
        }
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    if let Some(pid) = child.id() {
        // SIGTERM first: workerd finishes what is under way.
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    ExitCode::SUCCESS
}
