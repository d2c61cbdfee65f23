use clap::Parser;

/// mimalloc rather than glibc malloc, as the apiserver: a cycle allocates per node visited.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let opts = scheduler::options::Options::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("E: runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(scheduler::run(opts)) {
        eprintln!("E: {e}");
        std::process::exit(1);
    }
}
