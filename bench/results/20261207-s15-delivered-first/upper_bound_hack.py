from pathlib import Path
import sys
p=Path(sys.argv[1])/'rooms/chat.py'; s=p.read_text()
old='''        text = self.clean(text)
        guest = sender.role is RoomRole.GUEST
        if self._admission is not None:'''
new='''        text = self.clean(text)
        guest = sender.role is RoomRole.GUEST
        hack: dict[str, int] = self.__dict__.setdefault("_hack", {})
        if self._admission is not None and session_id in hack:
            # MEASUREMENT ONLY: no admission round trip, delivered before committed
            hack[session_id] += 1
            row = ChatMessageRow(id=new_id(), session_id=session_id, seq=hack[session_id],
                user_id=sender.user_id, user_name=sender.name, role=sender.role.value,
                text=text, created_at=utcnow())
            if publish is not None:
                await publish(row)
            await (await self._writes.add(row)).durable()
            return row
        if self._admission is not None:'''
assert old in s; s=s.replace(old,new)
old='''            seq = await self._admission.admit(
                session_id, sender.user_id, guest=guest, floor=lambda: self._floor(session_id)
            )'''
new='''            seq = await self._admission.admit(
                session_id, sender.user_id, guest=guest, floor=lambda: self._floor(session_id)
            )
            hack[session_id] = seq'''
assert old in s; s=s.replace(old,new)
p.write_text(s)
