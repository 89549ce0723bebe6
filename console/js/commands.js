// Commands from a page: each runs through /api/v1, tells what happened, and shows a refusal next to the control
// that asked for it, then reloads the page's data.
import { ApiError, send } from "./api.js";
import { flash, refusal } from "./ui.js";

export function commandsOn(path, reload) {
  return async function command(place, method, suffix, body, done) {
    place.replaceChildren();
    try {
      const answer = await send(method, path + suffix, body);
      // The page is read again first, so the confirmation comes with the new state (and nothing typed after it
      // is wiped by the redraw).
      await reload();
      // `done` is what to say, or a function of the answer that says it.
      flash(answer && answer.status === "pending" ? answer.message : typeof done === "function" ? done(answer) : done);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      place.replaceChildren(refusal(error));
    }
  };
}
