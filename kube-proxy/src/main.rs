use clap::Parser;

/// mimalloc rather than glibc malloc, as the other daemons.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let opts = kube_proxy::options::Options::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
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
