#pragma once

// Cleanup that must happen even when the benchmark is interrupted: child
// servers (ledger-node, PostgreSQL) and their temporary directories.
// Owners register an action while the resource exists and run or cancel it
// themselves on the normal path; on SIGINT, SIGTERM or SIGHUP every
// registered action runs (newest first) and the process exits 128+signal.

#include <cstdint>
#include <functional>
#include <string>

namespace ledger::bench {

// Registers `action`; returns a handle for Unregister.
uint64_t RegisterCleanup(std::function<void()> action);
// Removes the action without running it (no-op for an unknown handle).
void UnregisterCleanup(uint64_t handle);
// Runs every registered action, newest first, and forgets them. If the
// signal thread is running them, waits until it is done (it then exits the
// process): call it on every way out of main.
void RunCleanups();

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call it first
// in main, before any thread starts, so every thread inherits the mask) and
// starts a thread that waits for them and then runs RunCleanups() and
// exits.
void InstallSignalCleanup();

// Removes `dir` and everything below it, retrying while files still appear
// (a server that was just stopped may still be writing). Best effort.
void RemoveTree(const std::string& dir);

// A fresh directory under `parent` (the system temporary directory when
// empty) named prefix-XXXXXX; "" on failure.
std::string MakeTempDir(const std::string& parent, const std::string& prefix);

}  // namespace ledger::bench
