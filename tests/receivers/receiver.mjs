// A Comptoir webhook receiver in Node.js, verifying with the npm `standardwebhooks`
// package. Run: WEBHOOK_SECRET=whsec_... node receiver.mjs PORT
import http from "node:http";
import { Webhook } from "standardwebhooks";

const wh = new Webhook(process.env.WEBHOOK_SECRET); // accepts the whsec_ form
const port = Number(process.argv[2] || 8000);

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8"); // the raw body, as signed
    try {
      // Checks the signature and that webhook-timestamp is within 5 minutes.
      wh.verify(body, req.headers, { jsonParse: false });
    } catch (e) {
      res.writeHead(401).end("bad signature");
      return;
    }
    const fields = req.headers["content-type"].startsWith("application/json")
      ? JSON.parse(body)
      : Object.fromEntries(new URLSearchParams(body));
    // eventID de-duplicates: the same event may come more than once.
    console.log(`verified ${fields.eventID} ${fields.type} order ${fields.orderInternalID}`);
    res.writeHead(200).end("ok");
  });
}).listen(port, "127.0.0.1");
