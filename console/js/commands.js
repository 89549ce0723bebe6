// Commands from a page: each runs through /api/v1, tells what happened, and shows a refusal next to the control
// that asked for it, then reloads the page's data.
import { ApiError, send } from "./api.js";
import { flash, refusal } from "./ui.js";

export function commandsOn(path, reload) {
  return async function command(place, method, suffix, body, done) {
    place.replaceChildren();
    try {
      const answer = await send(method, path + suffix, body);
      flash(answer && answer.status === "pending" ? answer.message : done);
      await reload();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      place.replaceChildren(refusal(error));
    }
  };
}
