// The Verilated NEP SoC (rtl/soc.py) behind a pseudo-terminal: a dev board on /dev/pts/N.
//
// Started by host/backends/soc_sim.py as `soc_pty --divisor D --quiet-clocks Q`. It opens a pty,
// puts the slave side in raw mode and keeps its own slave descriptor open (so a host closing and
// reopening the port never hangs the pty up), prints the slave path on one line of stdout and then
// runs until killed:
//   - bytes the host writes arrive on the master; a UART model bit-bangs them onto `uart_rx`,
//     8N1 back to back at D clocks per bit (as a host sending at full baud rate would);
//   - `uart_tx` is sampled in the middle of each bit and every decoded byte is written back to the
//     master (a byte with a low stop bit is counted and dropped, as a real UART would).
// Device time only passes while something can happen: a byte going in or out, the core busy, or
// fewer than Q clocks since the last of those (Q covers the link bridge's idle-resync window and
// the longest frame it executes without sending). After that the model is frozen and the process
// sleeps in poll() until the host writes again, so an idle simulator costs no CPU.
// If the parent dies the simulator gets SIGTERM (PR_SET_PDEATHSIG), so none outlives its test.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "verilated.h"
#include "Vnep_soc.h"

namespace {

constexpr int RESET_CYCLES = 4;
constexpr int IO_EVERY_CLOCKS = 128;         // service the pty this often while the model runs
constexpr int SLEEP_MS = 20;                 // poll() timeout when frozen (input wakes it at once)
constexpr size_t OUT_LIMIT = 1 << 16;        // bytes kept for a host that does not read

struct Options {
    int divisor = 8;
    uint64_t quiet_clocks = 0;
};

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "soc_pty: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string key = argv[i];
        if (key == "--divisor") o.divisor = std::atoi(argv[i + 1]);
        else if (key == "--quiet-clocks") o.quiet_clocks = std::strtoull(argv[i + 1], nullptr, 10);
        else {
            std::fprintf(stderr, "soc_pty: unknown option %s\n", argv[i]);
            std::exit(2);
        }
    }
    if (o.divisor < 4 || o.quiet_clocks == 0) {
        std::fprintf(stderr, "usage: soc_pty --divisor D (>= 4) --quiet-clocks Q (> 0)\n");
        std::exit(2);
    }
    return o;
}

// Host -> device: shifts queued bytes onto uart_rx, 10 bits of `divisor` clocks each.
struct LineOut {
    std::deque<uint8_t> queue;
    int bit = -1;            // -1 idle, 0 start, 1..8 data, 9 stop
    int clock = 0;
    uint8_t byte = 0;

    bool active() const { return bit >= 0 || !queue.empty(); }

    // The line level for the next clock.
    int level(int divisor) {
        if (bit < 0) {
            if (queue.empty()) return 1;
            byte = queue.front();
            queue.pop_front();
            bit = 0;
            clock = 0;
        }
        int out = bit == 0 ? 0 : bit <= 8 ? (byte >> (bit - 1)) & 1 : 1;
        if (++clock == divisor) {
            clock = 0;
            if (++bit == 10) bit = -1;
        }
        return out;
    }
};

// Device -> host: samples uart_tx after each clock, in the middle of each bit.
struct LineIn {
    int count = -1;          // clocks since the start bit was first seen; -1 idle
    uint8_t byte = 0;
    uint64_t framing_errors = 0;

    bool active() const { return count >= 0; }

    // Returns a decoded byte or -1.
    int sample(int level, int divisor) {
        if (count < 0) {
            if (level) return -1;
            count = 0;
            byte = 0;
        }
        int result = -1;
        int offset = count - divisor / 2;
        if (offset >= 0 && offset % divisor == 0) {
            int bit = offset / divisor;          // 0 start, 1..8 data, 9 stop
            if (bit >= 1 && bit <= 8) byte |= (level & 1) << (bit - 1);
            if (bit == 9) {
                if (level) result = byte;
                else ++framing_errors;
                count = -1;
                return result;
            }
        }
        ++count;
        return result;
    }
};

int open_pty(std::string& slave_path, int& slave_fd) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) die("posix_openpt");
    if (grantpt(master) != 0) die("grantpt");
    if (unlockpt(master) != 0) die("unlockpt");
    const char* name = ptsname(master);
    if (!name) die("ptsname");
    slave_path = name;
    slave_fd = open(name, O_RDWR | O_NOCTTY);
    if (slave_fd < 0) die("open slave");
    termios t;
    if (tcgetattr(slave_fd, &t) != 0) die("tcgetattr");
    cfmakeraw(&t);
    if (tcsetattr(slave_fd, TCSANOW, &t) != 0) die("tcsetattr");
    int flags = fcntl(master, F_GETFL);
    if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) != 0) die("fcntl");
    return master;
}

void read_master(int master, std::deque<uint8_t>& queue) {
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0) return;              // EAGAIN: nothing more for now
        queue.insert(queue.end(), buf, buf + n);
    }
}

void write_master(int master, std::vector<uint8_t>& out) {
    while (!out.empty()) {
        ssize_t n = write(master, out.data(), out.size());
        if (n <= 0) break;               // the host is not reading; keep the rest
        out.erase(out.begin(), out.begin() + n);
    }
    if (out.size() > OUT_LIMIT) out.erase(out.begin(), out.end() - OUT_LIMIT);
}

}  // namespace

int main(int argc, char** argv) {
    Options opt = parse(argc, argv);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 1;        // the parent is already gone
    signal(SIGPIPE, SIG_IGN);

    std::string slave_path;
    int slave_fd = -1;
    int master = open_pty(slave_path, slave_fd);

    auto context = std::make_unique<VerilatedContext>();
    auto top = std::make_unique<Vnep_soc>(context.get(), "soc");
    auto tick = [&] {
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
    };
    top->clk = 0;
    top->uart_rx = 1;
    top->rst = 1;
    top->eval();
    for (int i = 0; i < RESET_CYCLES; ++i) tick();
    top->rst = 0;
    tick();

    std::printf("%s\n", slave_path.c_str());
    std::fflush(stdout);

    LineOut to_device;
    LineIn from_device;
    std::vector<uint8_t> to_host;
    uint64_t quiet = opt.quiet_clocks;   // start frozen: nothing is in flight after reset
    uint64_t clocks = 0;
    for (;;) {
        bool active = to_device.active() || from_device.active() || top->busy || !top->uart_tx;
        quiet = active ? 0 : quiet + 1;
        if (quiet >= opt.quiet_clocks) {
            write_master(master, to_host);
            pollfd p = {master, POLLIN, 0};
            if (to_host.empty() && poll(&p, 1, SLEEP_MS) < 0 && errno != EINTR) die("poll");
            read_master(master, to_device.queue);
            if (to_device.queue.empty()) {
                if (!to_host.empty()) usleep(1000);     // host not reading: do not spin
                continue;
            }
            quiet = 0;
        }
        top->uart_rx = to_device.level(opt.divisor);
        tick();
        int byte = from_device.sample(top->uart_tx, opt.divisor);
        if (byte >= 0) to_host.push_back(static_cast<uint8_t>(byte));
        if (++clocks % IO_EVERY_CLOCKS == 0) {
            if (to_device.queue.size() < 256) read_master(master, to_device.queue);
            if (!to_host.empty()) write_master(master, to_host);
        }
    }
}
