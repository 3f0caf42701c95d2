//! A real PostgreSQL and a real Singer target (`target-postgres`, meltanolabs-target-postgres)
//! for the tests of the tap: each [`Warehouse`] is a fresh server on a free loopback port in a
//! temporary directory of its own, gone on drop. Without PostgreSQL or the target the tests skip
//! with a notice, unless `HELPCRUNCH_REQUIRE_SINGER=1` (which `.ci/run` sets after installing
//! both) makes their absence a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tells apart the warehouses one test process starts (tests run on threads side by side).
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// A PostgreSQL server of its own, and the target that loads into it.
pub struct Warehouse {
    /// The temporary directory: the data directory, the server's log and unix socket, the
    /// target's configs. Removed on drop.
    dir: PathBuf,
    /// The loopback port the server listens on.
    port: u16,
    /// `pg_ctl`, to stop the server on drop.
    pg_ctl: PathBuf,
    /// `psql`, for [`Warehouse::query`].
    psql: PathBuf,
    /// Where the tests run as root, `runuser`, to run PostgreSQL's programs as the `postgres`
    /// user: `initdb` and the server refuse root.
    runuser: Option<PathBuf>,
    /// The `target-postgres` executable.
    target: PathBuf,
}

impl Warehouse {
    /// A fresh, empty server, or `None` (with a notice) where PostgreSQL or the target is
    /// missing and neither is required.
    pub fn start() -> Option<Self> {
        let initdb = postgres_tool("initdb");
        let pg_ctl = postgres_tool("pg_ctl");
        let psql = postgres_tool("psql");
        let target = target_postgres();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let runuser = if root { runuser() } else { None };

        let mut missing = Vec::new();
        if initdb.is_none() || pg_ctl.is_none() || psql.is_none() {
            missing.push(
                "PostgreSQL (initdb, pg_ctl and psql on PATH or in /usr/lib/postgresql/*/bin; \
                 `apt-get install postgresql`)"
                    .to_owned(),
            );
        }
        if target.is_none() {
            missing.push(format!(
                "target-postgres ($HELPCRUNCH_TARGET_POSTGRES, {}, or on PATH; \
                 `python3 -m venv target/singer-venv && target/singer-venv/bin/pip install \
                 meltanolabs-target-postgres==0.8.1`)",
                venv_target().display()
            ));
        }
        let dir = fresh_dir();
        // As root, the server runs as `postgres`, which must own the directory it writes in.
        if missing.is_empty() && root && (runuser.is_none() || !chown_to_postgres(&dir)) {
            missing.push(
                "runuser and a `postgres` user to run PostgreSQL as (the tests run as root, \
                 which PostgreSQL refuses; util-linux has runuser, `apt-get install postgresql` \
                 creates the user)"
                    .to_owned(),
            );
        }
        if !missing.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
            let missing = missing.join(" and ");
            if std::env::var_os("HELPCRUNCH_REQUIRE_SINGER").is_some_and(|v| v == "1") {
                panic!("HELPCRUNCH_REQUIRE_SINGER=1 but there is no {missing}");
            }
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("a warehouse test");
            eprintln!("NOTICE: {test} skipped: no {missing} (or run .ci/run, which installs both)");
            return None;
        }

        let mut warehouse = Self {
            port: super::redis::free_port(),
            dir,
            pg_ctl: pg_ctl.unwrap(),
            psql: psql.unwrap(),
            runuser,
            target: target.unwrap(),
        };
        warehouse.sweep_leftovers();
        warehouse.init(&initdb.unwrap());
        Some(warehouse)
    }

    /// Creates the cluster and starts its server, panicking with the server's log if it does
    /// not come up: PostgreSQL is there, so its failure is the test's.
    fn init(&mut self, initdb: &Path) {
        let data = self.data();
        // No fsync while creating it: the cluster lives as long as the test.
        let mut create = self.postgres_command(initdb);
        create
            .arg("-D")
            .arg(&data)
            .args(["--auth=trust", "-U", "postgres", "--no-sync"])
            // A fixed locale: a container's LANG may name one that is not installed, which
            // initdb refuses.
            .args(["--no-locale", "-E", "UTF8"]);
        run(&mut create, "initdb");

        // Loopback only, the socket in our directory rather than /var/run/postgresql, and no
        // durability: a crash loses nothing a test needs.
        let settings = format!(
            "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            self.dir.display()
        );
        self.configure(&settings);
        // The port was free when it was chosen; another process may take it before the server
        // binds it, a second or so later. Then another one (the last `port` line wins).
        for attempt in 1.. {
            self.configure(&format!("port = {}\n", self.port));
            let mut start = self.postgres_command(&self.pg_ctl);
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .args(["-w", "-t", "20", "start"]);
            let started = start.output().expect("pg_ctl runs");
            if started.status.success() {
                return;
            }
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            if attempt < 3 && log.contains("could not bind") {
                self.port = super::redis::free_port();
                continue;
            }
            panic!(
                "pg_ctl start failed: {}{}\nserver log:\n{log}",
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr)
            );
        }
    }

    /// Appends `settings` to the cluster's postgresql.conf.
    fn configure(&self, settings: &str) {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.conf"))
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .expect("postgresql.conf takes the test's settings");
    }

    /// Stops the servers of warehouses whose test process is gone (killed, not panicking, so
    /// no drop ran: a CI timeout, a Ctrl-C) and removes their directories.
    fn sweep_leftovers(&self) {
        for dir in super::redis::orphaned_dirs("helpcrunch-warehouse-") {
            let _ = self
                .postgres_command(&self.pg_ctl)
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// The port the server listens on, at 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Writes the target's config, loading into schema `schema` of database `postgres`, and
    /// returns its path.
    pub fn target_config(&self, schema: &str) -> PathBuf {
        let config = serde_json::json!({
            "host": "127.0.0.1",
            "port": self.port,
            "user": "postgres",
            // The target refuses a config without a password; trust authentication ignores it.
            "password": "unused",
            "database": "postgres",
            "default_target_schema": schema,
            // A stream with key properties is upserted whatever this says; said anyway.
            "load_method": "upsert",
            // ACTIVATE_VERSION needs the _sdc_* columns; without them the target crashes on one.
            "add_record_metadata": true,
            "activate_version": true,
            // Rows absent from a version the tap activates are deleted, not marked with
            // _sdc_deleted_at: the table then holds exactly what the warehouse should.
            "hard_delete": true,
            // Every record is checked against its stream's schema, as in production.
            "validate_records": true,
            // An object stays one jsonb column.
            "flattening_enabled": false,
        });
        let path = self.dir.join(format!("target-{schema}.json"));
        std::fs::write(&path, config.to_string()).expect("the target's config is written");
        path
    }

    /// `target-postgres --config CONFIG`, ready to spawn; its stdin, stdout and stderr are
    /// the caller's to set.
    pub fn target(&self, config: &Path) -> Command {
        let mut command = Command::new(&self.target);
        command.arg("--config").arg(config);
        command
    }

    /// The rows `sql` returns, unaligned: a line a row, columns split by `|`. Panics with
    /// psql's error if the statement fails.
    pub fn query(&self, sql: &str) -> String {
        let output = Command::new(&self.psql)
            // -X: no ~/.psqlrc to change the output.
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .arg("-c")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql failed on {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rows = String::from_utf8(output.stdout).expect("psql prints UTF-8");
        rows.strip_suffix('\n').unwrap_or(&rows).to_owned()
    }

    /// The `id`s of `schema.table`, as text, in the column's order (numeric for a number).
    pub fn ids(&self, schema: &str, table: &str) -> Vec<String> {
        let rows = self.query(&format!(
            // Named apart from `id`, so that ORDER BY sorts by the column, not by the text.
            "SELECT id::text AS id_text FROM {} ORDER BY id",
            qualified(schema, table)
        ));
        rows.lines().map(str::to_owned).collect()
    }

    /// How many rows `schema.table` holds.
    pub fn count(&self, schema: &str, table: &str) -> u64 {
        self.query(&format!(
            "SELECT count(*) FROM {}",
            qualified(schema, table)
        ))
        .parse()
        .expect("count(*) is a number")
    }

    /// The cluster's data directory.
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `program`, run as `postgres` where the tests run as root, from our directory (the
    /// test's may be closed to `postgres`, and PostgreSQL's programs complain of that).
    fn postgres_command(&self, program: &Path) -> Command {
        let mut command = match &self.runuser {
            Some(runuser) => {
                let mut c = Command::new(runuser);
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        command.current_dir(&self.dir).stdin(Stdio::null());
        command
    }
}

impl Drop for Warehouse {
    fn drop(&mut self) {
        // Immediate: nothing needs saving, and a clean shutdown would take longer.
        let _ = self
            .postgres_command(&self.pg_ctl)
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `command`, panicking with its output if it fails.
fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what} runs: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new, empty directory under the system's temporary directory, named for this process and
/// the how-manieth warehouse it starts, so parallel tests and runs never share one.
fn fresh_dir() -> PathBuf {
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("helpcrunch-warehouse-{}-{n}", std::process::id()));
    // A directory left by an earlier process of the same id is stale.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory for the warehouse");
    dir
}

/// `runuser`, util-linux's (on every Debian): unlike `su` it asks root for no password and
/// passes the arguments as they are, without a shell. It is in `/usr/sbin`, which a non-login
/// `PATH` may lack.
fn runuser() -> Option<PathBuf> {
    on_path("runuser").or_else(|| {
        ["/usr/sbin/runuser", "/sbin/runuser"]
            .into_iter()
            .map(PathBuf::from)
            .find(|candidate| is_executable(candidate))
    })
}

/// Gives `dir` to the `postgres` user; false if there is no such user.
fn chown_to_postgres(dir: &Path) -> bool {
    Command::new("chown")
        .arg("postgres:")
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One of PostgreSQL's programs: on `PATH`, else in the newest `/usr/lib/postgresql/*/bin`,
/// where Debian's package puts them (only psql and a few wrappers land on `PATH`).
fn postgres_tool(name: &str) -> Option<PathBuf> {
    if let Some(found) = on_path(name) {
        return Some(found);
    }
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(|entry| {
            let entry = entry.ok()?;
            // "15", "9.6": compared as numbers, so 10 is newer than 9.6.
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let tool = entry.path().join("bin").join(name);
            is_executable(&tool).then_some((version, tool))
        })
        .max()
        .map(|(_, tool)| tool)
}

/// The target: `$HELPCRUNCH_TARGET_POSTGRES`, else the virtualenv `.ci/run` makes, else
/// `target-postgres` on `PATH`.
fn target_postgres() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("HELPCRUNCH_TARGET_POSTGRES") {
        // Named, it is the one wanted: no falling back to another.
        let path = PathBuf::from(path);
        return is_executable(&path).then_some(path);
    }
    let venv = venv_target();
    if is_executable(&venv) {
        return Some(venv);
    }
    on_path("target-postgres")
}

/// Where `.ci/run` installs the target: a virtualenv under the crate's `target/`.
fn venv_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/singer-venv/bin/target-postgres")
}

/// `name` in one of `PATH`'s directories, if it is executable there.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file someone may execute.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `"schema"."table"`, quoted so a stream's name is taken as it is (case and all).
fn qualified(schema: &str, table: &str) -> String {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    format!("{}.{}", quote(schema), quote(table))
}
