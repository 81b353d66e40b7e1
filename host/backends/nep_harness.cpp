// C ABI around the Verilated NEP core, loaded with ctypes by host/backends/verilator.py.
//
// Every call drives whole bus transfers or whole runs with the clock loop here in C, so Python pays
// one foreign call per batch, never one per cycle. Bus timing is rtl/bus.py's: inputs change while
// the clock is low, the core samples them at the rising edge; a read's data (`r_data`, registered)
// is sampled after the edge that took its `r_en`, so reads stream one per clock.
//
// A handle owns its own VerilatedContext, so several cores can live in one process (one thread
// each at a time; a handle is not safe to share between threads).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "verilated.h"
#include "Vnep_core.h"

// Verilator escapes the "__" of Amaranth's flattened port names (bus__addr) as "___05F".
#define BUS_ADDR bus___05Faddr
#define BUS_W_DATA bus___05Fw_data
#define BUS_W_EN bus___05Fw_en
#define BUS_R_EN bus___05Fr_en
#define BUS_R_DATA bus___05Fr_data

namespace {

struct Nep {
    std::unique_ptr<VerilatedContext> context;
    std::unique_ptr<Vnep_core> top;
    uint64_t cycles = 0;        // rising edges since create

    Nep() : context(new VerilatedContext), top(new Vnep_core(context.get(), "nep")) {}
};

inline void idle(Vnep_core* top) {
    top->BUS_W_EN = 0;
    top->BUS_R_EN = 0;
}

// One clock: rising edge (the core samples its inputs), then back low for the next inputs.
inline void tick(Nep* n) {
    Vnep_core* top = n->top.get();
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
    ++n->cycles;
}

}  // namespace

extern "C" {

void* nep_create(void) {
    Nep* n = new Nep;
    n->top->clk = 0;
    n->top->rst = 0;
    n->top->BUS_ADDR = 0;
    n->top->BUS_W_DATA = 0;
    idle(n->top.get());
    n->top->eval();
    return n;
}

void nep_destroy(void* handle) {
    Nep* n = static_cast<Nep*>(handle);
    if (n) {
        n->top->final();
        delete n;
    }
}

// Hold rst for `cycles` clocks with the bus idle, then one idle clock.
void nep_reset(void* handle, uint32_t cycles) {
    Nep* n = static_cast<Nep*>(handle);
    idle(n->top.get());
    n->top->rst = 1;
    for (uint32_t i = 0; i < cycles; ++i) tick(n);
    n->top->rst = 0;
    tick(n);
}

// `count` writes, one per clock; `pairs` holds addr0, data0, addr1, data1, ...
void nep_write_many(void* handle, const uint32_t* pairs, size_t count) {
    Nep* n = static_cast<Nep*>(handle);
    Vnep_core* top = n->top.get();
    top->BUS_R_EN = 0;
    for (size_t i = 0; i < count; ++i) {
        top->BUS_ADDR = pairs[2 * i];
        top->BUS_W_DATA = pairs[2 * i + 1];
        top->BUS_W_EN = 1;
        tick(n);
    }
    top->BUS_W_EN = 0;
}

// `count` reads, one per clock; out[i] is the data of addrs[i].
void nep_read_many(void* handle, const uint32_t* addrs, uint32_t* out, size_t count) {
    Nep* n = static_cast<Nep*>(handle);
    Vnep_core* top = n->top.get();
    top->BUS_W_EN = 0;
    for (size_t i = 0; i < count; ++i) {
        top->BUS_ADDR = addrs[i];
        top->BUS_R_EN = 1;
        tick(n);
        out[i] = top->BUS_R_DATA;
    }
    top->BUS_R_EN = 0;
}

// Clock the idle bus until `busy` is low or `max_cycles` clocks have passed; returns the clocks
// taken. The caller tells a timeout from a finished run by `nep_busy` afterwards.
uint64_t nep_run_until_idle(void* handle, uint64_t max_cycles) {
    Nep* n = static_cast<Nep*>(handle);
    Vnep_core* top = n->top.get();
    idle(top);
    uint64_t taken = 0;
    while (top->busy && taken < max_cycles) {
        tick(n);
        ++taken;
    }
    return taken;
}

int nep_busy(void* handle) {
    return static_cast<Nep*>(handle)->top->busy ? 1 : 0;
}

uint64_t nep_cycles(void* handle) {
    return static_cast<Nep*>(handle)->cycles;
}

}  // extern "C"
