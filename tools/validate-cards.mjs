#!/usr/bin/env node
/**
 * Check Adaptive Cards with the reference parser, the npm package `adaptivecards` (3.0.6).
 *
 * Usage:
 *   node tools/validate-cards.mjs < cards.json
 *       stdin holds one JSON array of cards; stdout gets one JSON array of results, in the same order.
 *   node tools/validate-cards.mjs --serve
 *       for test suites: each line of stdin is a JSON array of cards, each answered by one line of
 *       stdout holding the JSON array of results. Ends when stdin closes.
 *
 * A result is {"ok": bool, "version": "1.5", "events": [{phase, event, message, sourceType, sourceId}]}.
 * Events come from parsing (unknown element or action types, invalid property values, properties
 * newer than the card's declared version) and from card.validateProperties() (inputs without ids,
 * duplicate ids, unsupported card version, empty choice sets, required inputs without label...).
 * A card that makes the parser throw gets one event of type "Exception".
 *
 * The card is parsed, never rendered, so no DOM is needed. The package's `lib/` folder is ES modules
 * written for bundlers (imports without file extensions) that Node cannot load, so this script loads
 * the package's self-contained UMD build from `dist/` instead.
 *
 * Exit status: 0 when the input could be read (whatever the cards' results), 2 when it could not.
 */

import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const AC = require("adaptivecards/dist/adaptivecards.min.js");

/** The card's declared version as the parser's Version object, or undefined if it has none or a bad one. */
function declaredVersion(card) {
    if (typeof card.version !== "string") {
        return undefined;
    }
    const version = AC.Version.parse(card.version, new AC.SerializationContext());
    return version && version.isValid ? version : undefined;
}

/** One reported problem, as plain JSON. */
function describe(event) {
    const source = event.source;
    return {
        phase: AC.ValidationPhase[event.phase] ?? String(event.phase),
        event: AC.ValidationEvent[event.event] ?? String(event.event),
        message: event.message,
        sourceType: source && typeof source.getJsonTypeName === "function" ? source.getJsonTypeName() : null,
        sourceId: source && typeof source.id === "string" ? source.id : null,
    };
}

/** Parse one card against its own declared version and collect every parse and validation event. */
function checkCard(card) {
    if (card === null || typeof card !== "object" || Array.isArray(card)) {
        return {
            ok: false,
            version: null,
            events: [{ phase: "Parse", event: "Exception", message: "A card must be a JSON object.",
                       sourceType: null, sourceId: null }],
        };
    }
    const target = declaredVersion(card);
    const context = new AC.SerializationContext(target);
    const adaptiveCard = new AC.AdaptiveCard();
    const events = [];
    try {
        adaptiveCard.parse(card, context);
        for (let i = 0; i < context.eventCount; i++) {
            events.push(describe(context.getEventAt(i)));
        }
        for (const event of adaptiveCard.validateProperties().validationEvents) {
            events.push(describe(event));
        }
    } catch (error) {
        events.push({ phase: "Parse", event: "Exception", message: String(error && error.message || error),
                      sourceType: null, sourceId: null });
    }
    const version = adaptiveCard.version ? adaptiveCard.version.toString() : null;
    return { ok: events.length === 0, version, events };
}

/** Results for a JSON array of cards, given as text. Throws if the text is not a JSON array. */
function checkBatch(text) {
    const cards = JSON.parse(text);
    if (!Array.isArray(cards)) {
        throw new Error("expected a JSON array of cards");
    }
    return cards.map(checkCard);
}

function serve() {
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    lines.on("line", (line) => {
        if (!line.trim()) {
            return;
        }
        let answer;
        try {
            answer = checkBatch(line);
        } catch (error) {
            answer = { error: String(error && error.message || error) };
        }
        process.stdout.write(JSON.stringify(answer) + "\n");
    });
}

async function once() {
    let text = "";
    process.stdin.setEncoding("utf8");
    for await (const chunk of process.stdin) {
        text += chunk;
    }
    try {
        process.stdout.write(JSON.stringify(checkBatch(text), null, 2) + "\n");
    } catch (error) {
        process.stderr.write(`validate-cards: ${error && error.message || error}\n`);
        process.exitCode = 2;
    }
}

if (process.argv.includes("--serve")) {
    serve();
} else {
    await once();
}
