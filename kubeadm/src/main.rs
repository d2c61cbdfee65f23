use clap::Parser;

fn main() {
    let cli = kubeadm::Cli::parse();
    if let Err(e) = kubeadm::run(cli) {
        eprintln!("{e}\nTo see the stack trace of this error execute with --v=5 or higher");
        std::process::exit(1);
    }
}
