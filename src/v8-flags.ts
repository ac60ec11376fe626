// V8 settings of the server process, set at start (imported first by main.ts). Only flags V8
// reads as it runs take effect this way; sizes fixed when the heap is made (the young
// generation's `--max-semi-space-size`) do not: those go on the command line or NODE_OPTIONS.
import { setFlagsFromString } from 'node:v8';

// No allocation-site pretenuring: V8 otherwise learns, under load, that objects from some
// allocation sites (query building, request handling) outlive a young-generation GC and then
// allocates them straight in the old generation, where they die at once. With tens of thousands
// of MQTT connections held, their long-lived objects end up spread thinly over that garbage's
// pages, which a full GC cannot give back: at 19,000 devices the heap stayed at ~380–510 MiB
// committed for 160–205 MiB live; without it ~190–230 MiB, and half the GC time while pushing
// (bench/README.md, "Memory at 19,000 connections").
setFlagsFromString('--no-allocation-site-pretenuring');
