<?php
// A Comptoir webhook receiver in PHP with hash_hmac alone (no library).
// Run: WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:PORT receiver.php
$secret = getenv('WEBHOOK_SECRET');
$key = base64_decode(substr($secret, strlen('whsec_')));  // the key is the bytes after whsec_

$body = file_get_contents('php://input');                  // the raw body, as signed
$id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
$timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
$signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';

$expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
$valid = false;
foreach (explode(' ', $signatures) as $versioned) {       // two during a secret rotation
    [$version, $signature] = array_pad(explode(',', $versioned, 2), 2, '');
    if ($version === 'v1' && hash_equals($expected, $signature)) {
        $valid = true;
    }
}
// Refuse a replayed call: the timestamp must be within 5 minutes of now.
if (!$valid || !ctype_digit($timestamp) || abs(time() - (int) $timestamp) > 300) {
    http_response_code(401);
    exit('bad signature');
}

// Form bodies arrive in $_POST; JSON bodies are decoded.
$fields = str_starts_with($_SERVER['CONTENT_TYPE'] ?? '', 'application/json')
    ? json_decode($body, true)
    : $_POST;
// eventID de-duplicates: the same event may come more than once.
file_put_contents('php://stdout', "verified {$fields['eventID']} {$fields['type']} order {$fields['orderInternalID']}\n");
echo 'ok';
