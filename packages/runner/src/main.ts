#!/usr/bin/env node
import { runnerMain } from "./runner-main.js";

/** `node main.js <config.json>`: the runner inside a sandbox (see `runnerMain`). */
void runnerMain();
