use clap::Parser;

/// mimalloc rather than glibc malloc, as the other daemons.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let opts = kube_proxy::options::Options::parse();
    // One thread: the proxier's work is serial anyway, and memory freed on the thread that
    // allocated it goes back to the OS sooner (on two workers, steady RSS at 10k Services
    // varied 51-64 MiB with empty pages parked on an idle worker; on one, 47-51 MiB).
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("E: runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(kube_proxy::run(opts)) {
        eprintln!("E: \"command failed\" err=\"{e}\"");
        std::process::exit(1);
    }
}
